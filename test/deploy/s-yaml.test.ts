/**
 * Issue 7, "Done when": s.yaml parses as YAML, Serverless Devs 3 renders it (the pinned `s`,
 * offline: `s preview`), and the rendered props validate against a zod schema of the fc3 props we
 * use — exact events, runtime, handler, timeouts against the poller's budget, and the environment
 * of both functions matching the configuration schema (SPEC §6). The OSS trigger rule set is
 * checked against a list of keys: which of them reach the function, and that the ones the function
 * does not want cost no I/O.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigSchema, loadConfig } from '../../lib/config.js';
import { classifyKey } from '../../lib/contract/keys.js';
import { CREATED_EVENT_NAMES, OssEventSchema } from '../../lib/events/oss.js';
import { TimerEventSchema } from '../../lib/events/timer.js';
import { EVENT_MODELS, eventRulePattern, matchesEventRule, parseTaskEvents } from '../../lib/events/dashscope.js';
import { LEGACY_MODEL as MODEL } from '../../lib/models/index.js';
import { finishEvent } from '../../lib/local/dashscope/index.js';
import { leaseMarginMs } from '../../lib/core/poller.js';
import { createSubmitHandler, type SubmitResult } from '../../functions/submit/index.js';
import { paramsFromEnv, renderPolicy } from '../../deploy/ram-policy.js';
import { ASYNC_RETRIES } from '../../lib/local/pipeline.js';
import { ossEvent } from '../helpers/events.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const S_BIN = path.join(root, 'node_modules', '@serverless-devs', 's', 'bin', 's');
const ACCOUNT = '1234567890123456';

/** The settings without a default (SPEC §6): `s deploy` must stop when one is missing. */
const REQUIRED = { DASHSCOPE_API_KEY: 'sk-0123456789abcdef0123456789abcdef', OSS_BUCKET: 'my-sketches', TABLESTORE_ENDPOINT: 'https://sketchflow.cn-beijing.ots.aliyuncs.com', TABLESTORE_INSTANCE: 'sketchflow' };
const EVENTS = CREATED_EVENT_NAMES.map((e) => `oss:${e}`);

// ---- the fc3 props sketchflow uses (devsapp/fc3 src/schema.json, src/interface/*.ts) ----------
const EnvMap = z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/).refine((k) => !k.startsWith('FC_'), { message: 'FC_* names are reserved by Function Compute' }), z.string());
const OssTrigger = z.strictObject({
  triggerName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  triggerType: z.literal('oss'),
  qualifier: z.literal('LATEST'),
  sourceArn: z.string().regex(/^acs:oss:cn-beijing:\d+:[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/),
  invocationRole: z.string().optional(),
  description: z.string().optional(),
  triggerConfig: z.strictObject({
    events: z.array(z.enum(EVENTS as [string, ...string[]])).nonempty(),
    filter: z.strictObject({ key: z.strictObject({ prefix: z.string(), suffix: z.string() }) }),
  }),
});
const TimerTrigger = z.strictObject({
  triggerName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  triggerType: z.literal('timer'),
  qualifier: z.literal('LATEST'),
  description: z.string().optional(),
  triggerConfig: z.strictObject({ cronExpression: z.string(), enable: z.literal(true), payload: z.string().optional() }),
});
// fc3 src/schema.json IEventBridge (every field required there), FC 3.0 EventBridgeTriggerConfig.
const EventBridgeTrigger = z.strictObject({
  triggerName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  triggerType: z.literal('eventbridge'),
  qualifier: z.literal('LATEST'),
  description: z.string().optional(),
  triggerConfig: z.strictObject({
    triggerEnable: z.boolean(),
    asyncInvocationType: z.boolean(),
    eventSourceConfig: z.strictObject({ eventSourceType: z.literal('Default'), eventSourceParameters: z.strictObject({}) }),
    eventRuleFilterPattern: z.string(),
    eventSinkConfig: z.strictObject({ deliveryOption: z.strictObject({ mode: z.literal('event-driven'), eventSchema: z.enum(['CloudEvents', 'RawData']) }) }),
    runOptions: z.strictObject({ mode: z.literal('event-driven') }),
  }),
});
const Destination = z.strictObject({ destination: z.string().regex(/^acs:(mns|fc|eventbridge|mq):/) });
const Fc3Props = z
  .strictObject({
    region: z.literal('cn-beijing'),
    functionName: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/),
    description: z.string().max(256).regex(/^[\x20-\x7e]*$/, { message: 'ASCII only' }),
    runtime: z.literal('nodejs20'),
    code: z.string().regex(/^\.\/dist\/[a-z]+$/),
    handler: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z_$][A-Za-z0-9_$]*$/),
    memorySize: z.number().int().min(128).max(32768).multipleOf(64),
    cpu: z.number().min(0.05).max(16),
    diskSize: z.union([z.literal(512), z.literal(10240)]),
    timeout: z.number().int().min(1).max(86400),
    internetAccess: z.boolean(),
    role: z.string().min(1),
    logConfig: z.union([z.literal('auto'), z.strictObject({ project: z.string(), logstore: z.string(), enableRequestMetrics: z.boolean().optional(), enableInstanceMetrics: z.boolean().optional() })]),
    environmentVariables: EnvMap,
    asyncInvokeConfig: z.strictObject({
      maxAsyncRetryAttempts: z.number().int().min(0).max(8),
      // FC 3.0 API: 1–604800 (fc.md §2.2; fc3's own schema allows more, the API does not).
      maxAsyncEventAgeInSeconds: z.number().int().min(1).max(604800),
      destinationConfig: z.strictObject({ onFailure: Destination.optional(), onSuccess: Destination.optional() }).optional(),
    }),
    concurrencyConfig: z.strictObject({ reservedConcurrency: z.number().int().min(1).max(100) }),
    triggers: z.array(z.discriminatedUnion('triggerType', [OssTrigger, TimerTrigger, EventBridgeTrigger])).min(1),
  })
  // vCPU : memory (GB) between 1:1 and 1:4 (fc.md §5.1).
  .refine((p) => p.memorySize / 1024 >= p.cpu && p.memorySize / 1024 <= p.cpu * 4, { message: 'cpu and memorySize must be between 1:1 and 1:4 (vCPU:GB)' });
type Props = z.infer<typeof Fc3Props>;

const Spec = z.object({
  edition: z.literal('3.0.0'),
  name: z.string(),
  access: z.string(),
  resources: z.object({
    submit: z.object({ component: z.literal('fc3'), actions: z.object({ 'pre-deploy': z.array(z.object({ run: z.string(), path: z.string() })) }), props: Fc3Props }),
    poller: z.object({ component: z.literal('fc3'), actions: z.object({ 'pre-deploy': z.array(z.object({ run: z.string(), path: z.string() })) }), props: Fc3Props }),
  }),
});
type RenderedSpec = z.infer<typeof Spec>;

// ---- Serverless Devs itself, offline, in a throwaway HOME ------------------------------------
let home: string;
let sYaml: string;

beforeAll(async () => {
  sYaml = await readFile(path.join(root, 's.yaml'), 'utf8');
  home = await mkdtemp(path.join(os.tmpdir(), 'sketchflow-s-home-'));
  // `${config('AccountID')}` needs a credential alias; these keys are fake and never leave.
  await run(process.execPath, [S_BIN, 'config', 'add', '--AccountID', ACCOUNT, '--AccessKeyID', 'LTAIexampleexample', '--AccessKeySecret', 'example-secret', '-a', 'default', '-f'], {
    env: { HOME: home, PATH: process.env.PATH ?? '' },
  });
}, 30_000);

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** `s preview -o json` of `text` (default: s.yaml) with exactly `env` (no .env, no shell variables). */
async function preview(env: Record<string, string>, text = sYaml): Promise<{ spec?: unknown; error?: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sketchflow-s-yaml-'));
  try {
    await writeFile(path.join(dir, 's.yaml'), text);
    const { stdout } = await run(process.execPath, [S_BIN, 'preview', '-t', path.join(dir, 's.yaml'), '-o', 'json'], {
      cwd: dir,
      env: { HOME: home, PATH: process.env.PATH ?? '', ...env },
    });
    return { spec: JSON.parse(stdout.slice(stdout.indexOf('{'))) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { error: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const envKeys = () => CONFIG_KEYS.filter((k) => !k.startsWith('FC_'));

describe('s.yaml as written', () => {
  const raw = () => parseYaml(sYaml) as { resources: Record<string, { props: { environmentVariables: Record<string, string> } }> };

  it('uses ${env(…)} (3.x quoted syntax) for every setting, under its own name, in both functions', () => {
    const { submit, poller } = raw().resources;
    expect(poller!.props.environmentVariables).toEqual(submit!.props.environmentVariables);
    const vars = submit!.props.environmentVariables;
    // Every setting the functions read, except FC_* (reserved: FC sets FC_ACCOUNT_ID and FC_REGION
    // itself; FC_ENDPOINT only points local mode at its stand-in). Nothing else.
    expect(Object.keys(vars).sort()).toEqual(envKeys().sort());
    for (const [key, value] of Object.entries(vars)) {
      if (key === 'POLLER_FUNCTION_NAME') {
        expect(value).toBe('${vars.pollerName}');
        continue;
      }
      expect(value, key).toMatch(new RegExp(`^\\$\\{env\\('${key}'(, '[^']*')?\\)\\}$`));
    }
  });

  it('has no default exactly for the settings the configuration requires', () => {
    const vars = raw().resources.submit!.props.environmentVariables;
    const withoutDefault = Object.entries(vars).filter(([, v]) => /^\$\{env\('[A-Z_]+'\)\}$/.test(v)).map(([k]) => k);
    const required = envKeys().filter((k) => !ConfigSchema.shape[k].safeParse(undefined).success);
    expect(withoutDefault.sort()).toEqual(required.sort());
    expect(required.sort()).toEqual(Object.keys(REQUIRED).sort());
  });
});

describe('s.yaml as Serverless Devs 3 renders it (the pinned `s preview`, offline)', () => {
  let spec: RenderedSpec;
  let submit: Props;
  let poller: Props;

  beforeAll(async () => {
    const result = await preview(REQUIRED);
    expect(result.error).toBeUndefined();
    spec = Spec.parse(result.spec);
    ({ submit: { props: submit }, poller: { props: poller } } = spec.resources);
  }, 30_000);

  it('validates against the fc3 props schema; both are nodejs20 event functions built by pre-deploy', () => {
    for (const r of Object.values(spec.resources)) expect(r.actions['pre-deploy']).toEqual([{ run: 'npm run build', path: './' }]);
    expect(submit.handler).toBe('index.handler');
    expect(poller.handler).toBe('index.handler');
    expect([submit.code, poller.code]).toEqual(['./dist/submit', './dist/poller']);
  });

  it('renders an environment the functions accept, with the defaults of SPEC §6', () => {
    for (const props of [submit, poller]) {
      const env = props.environmentVariables;
      expect(Object.keys(env).sort()).toEqual(envKeys().sort());
      // The same Config as the schema's own defaults, plus the kick pointing at the poller.
      const fromYaml = loadConfig(env);
      const fromSchema = loadConfig(REQUIRED);
      expect(fromYaml).toEqual({ ...fromSchema, fc: { ...fromSchema.fc, pollerFunctionName: poller.functionName } });
      // FC allows 4 KB of environment per function.
      expect(Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)).toBeLessThan(4096);
    }
    expect(submit.environmentVariables.POLLER_FUNCTION_NAME).toBe(poller.functionName);
  });

  it('the RAM policy names the poller and region s.yaml deploys, whatever the environment says', () => {
    const params = paramsFromEnv({ ...REQUIRED, ALIBABA_CLOUD_ACCOUNT_ID: ACCOUNT, POLLER_FUNCTION_NAME: 'elsewhere', SKETCHFLOW_REGION: 'cn-hangzhou' });
    expect({ region: params.region, pollerFunction: params.pollerFunction }).toEqual({ region: poller.region, pollerFunction: poller.functionName });
    const invoke = renderPolicy('function', params).Statement.find((st) => st.Action.includes('fc:InvokeFunction'));
    expect(invoke?.Resource[0]).toBe(`acs:fc:${poller.region}:${ACCOUNT}:functions/${poller.functionName}`);
  });

  it('passes settings through, to the functions and to the trigger prefix alike', async () => {
    const result = await preview({ ...REQUIRED, SKETCH_PREFIX: 'drawings/', POLL_BUDGET_SECONDS: '40', DASHSCOPE_WORKSPACE: 'llm-abc', SKETCHFLOW_ROLE: 'acs:ram::1234567890123456:role/custom' });
    const rendered = Spec.parse(result.spec).resources;
    const trigger = rendered.submit.props.triggers.find((t) => t.triggerType === 'oss') as z.infer<typeof OssTrigger>;
    expect(trigger.triggerConfig.filter.key.prefix).toBe('drawings/');
    expect(loadConfig(rendered.poller.props.environmentVariables)).toMatchObject({ sketchPrefix: 'drawings/', pollBudgetMs: 40_000, dashscope: { workspace: 'llm-abc' } });
    expect(rendered.submit.props.role).toBe('acs:ram::1234567890123456:role/custom');
  }, 30_000);

  it('stops the deploy when a required setting is missing, naming it', async () => {
    const { DASHSCOPE_API_KEY: _omitted, ...rest } = REQUIRED;
    const result = await preview(rest);
    expect(result.spec).toBeUndefined();
    expect(result.error).toContain("env('DASHSCOPE_API_KEY') not found");
  }, 30_000);

  it('timeouts: the poller outlasts its budget by a margin but never its scheduler lease', () => {
    const budget = ConfigSchema.shape.POLL_BUDGET_SECONDS.parse(undefined);
    expect(budget).toBe(50);
    expect(poller.timeout).toBeGreaterThanOrEqual(budget + 10);
    // The lease runs budget + margin: a poller alive past it could overlap the next one.
    expect(poller.timeout).toBeLessThanOrEqual(budget + leaseMarginMs(budget * 1000) / 1000);
    // Submit makes at most one DashScope create (a client timeout each) among a few store calls.
    const dashscopeTimeout = ConfigSchema.shape.DASHSCOPE_TIMEOUT_SECONDS.parse(undefined);
    expect(submit.timeout).toBeGreaterThanOrEqual(2 * dashscopeTimeout);
    expect(submit.timeout).toBeLessThanOrEqual(300);
  });

  it('async delivery: submit retries infrastructure faults for a day; the poller never retries', () => {
    expect(submit.asyncInvokeConfig.maxAsyncRetryAttempts).toBeGreaterThanOrEqual(1);
    expect(submit.asyncInvokeConfig.maxAsyncEventAgeInSeconds).toBeGreaterThanOrEqual(3600);
    expect(poller.asyncInvokeConfig.maxAsyncRetryAttempts).toBe(0);
    expect(poller.asyncInvokeConfig.maxAsyncEventAgeInSeconds).toBeLessThanOrEqual(600);
    // Local mode, the tests and the soak deliver with the same retries.
    expect(ASYNC_RETRIES.submit.maxAsyncRetryAttempts).toBe(submit.asyncInvokeConfig.maxAsyncRetryAttempts);
    expect(ASYNC_RETRIES.poller.maxAsyncRetryAttempts).toBe(poller.asyncInvokeConfig.maxAsyncRetryAttempts);
  });

  it('concurrency caps: a kicked poller and a completion event can run beside a timer one; submit is capped', () => {
    expect(poller.concurrencyConfig.reservedConcurrency).toBeGreaterThanOrEqual(3);
    expect(poller.concurrencyConfig.reservedConcurrency).toBeLessThanOrEqual(5);
    expect(submit.concurrencyConfig.reservedConcurrency).toBeGreaterThanOrEqual(2);
    expect(submit.concurrencyConfig.reservedConcurrency).toBeLessThanOrEqual(50);
  });

  it('the poller has a timer and the completion events, nothing else', () => {
    expect(poller.triggers.map((t) => t.triggerType).sort()).toEqual(['eventbridge', 'timer']);
  });

  it('the timer fires every minute with an event the poller parses', () => {
    const timer = poller.triggers.find((t) => t.triggerType === 'timer');
    const { cronExpression, payload } = (timer as z.infer<typeof TimerTrigger>).triggerConfig;
    // `@every 1m`, or a 6-field cron (seconds first, UTC) firing once a minute.
    expect(cronExpression === '@every 1m' || /^0 \* \* \* \* \*$/.test(cronExpression)).toBe(true);
    expect(TimerEventSchema.safeParse({ triggerTime: '2024-11-01T09:50:00Z', triggerName: timer!.triggerName, payload }).success).toBe(true);
    // Kicks name themselves 'kick' (and do not sweep): the timer must not.
    expect(timer!.triggerName).not.toBe('kick');
  });

  it("the EventBridge trigger: DashScope's task-finish events of our models only, pushed asynchronously as CloudEvents the poller parses", () => {
    const trigger = poller.triggers.find((t): t is z.infer<typeof EventBridgeTrigger> => t.triggerType === 'eventbridge')!;
    const config = trigger.triggerConfig;
    expect(JSON.parse(config.eventRuleFilterPattern)).toEqual(eventRulePattern(EVENT_MODELS));
    expect(config).toMatchObject({ triggerEnable: true, asyncInvocationType: true, eventSinkConfig: { deliveryOption: { eventSchema: 'CloudEvents' } } });
    // The documented example event (events.md), as this trigger hands it over, reaches our parser.
    const event = finishEvent({ id: 'T1', status: 'SUCCEEDED', requestId: 'r', apiKeyId: 'k', submitAt: 0, scheduledAt: 0, endAt: 1000, request: { model: MODEL } as never }, 1000, ACCOUNT);
    expect(matchesEventRule(event)).toBe(true);
    expect(parseTaskEvents(event, EVENT_MODELS)?.events).toEqual([expect.objectContaining({ taskId: 'T1', model: MODEL })]);
    // Every model we know passes the pattern (it cannot follow MODELS); the handler keeps MODELS'.
    const known = finishEvent({ id: 'T2', status: 'SUCCEEDED', requestId: 'r', apiKeyId: 'k', submitAt: 0, scheduledAt: 0, endAt: 1000, request: { model: 'wan2.5-i2i-preview' } as never }, 1000, ACCOUNT);
    expect(matchesEventRule(known)).toBe(true);
    expect(parseTaskEvents(known, [MODEL])?.events).toEqual([]);
    const other = finishEvent({ id: 'T3', status: 'SUCCEEDED', requestId: 'r', apiKeyId: 'k', submitAt: 0, scheduledAt: 0, endAt: 1000, request: { model: 'qwen-image' } as never }, 1000, ACCOUNT);
    expect(matchesEventRule(other)).toBe(false);
  });

  it('OSS trigger: exactly PutObject, PostObject, CompleteMultipartUpload on the bucket', () => {
    const oss = submit.triggers.filter((t): t is z.infer<typeof OssTrigger> => t.triggerType === 'oss');
    expect(oss.length).toBeGreaterThan(0);
    for (const t of oss) {
      expect([...t.triggerConfig.events].sort()).toEqual([...EVENTS].sort());
      expect(t.triggerConfig.events.some((e) => e.includes('*'))).toBe(false);
      expect(t.sourceArn).toBe(`acs:oss:cn-beijing:${ACCOUNT}:${REQUIRED.OSS_BUCKET}`);
    }
  });

  describe('the OSS trigger rule set', () => {
    const rules = () =>
      submit.triggers
        .filter((t): t is z.infer<typeof OssTrigger> => t.triggerType === 'oss')
        .flatMap((t) => t.triggerConfig.events.map((event) => ({ event, ...t.triggerConfig.filter.key })));

    it('fits a bucket (about 10 rules) and no two rules overlap for the same event type', () => {
      const triggers = submit.triggers.filter((t) => t.triggerType === 'oss');
      expect(triggers.length).toBeLessThanOrEqual(10);
      const all = rules();
      for (let i = 0; i < all.length; i++) {
        for (let j = i + 1; j < all.length; j++) {
          const a = all[i]!;
          const b = all[j]!;
          const overlap = a.event === b.event && (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) && (a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix));
          expect(overlap, `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`).toBe(false);
        }
      }
    });

    // Upload keys a user may produce, and our own outputs (which land in the same folders).
    const KEYS = [
      'sketches/cat.png',
      'sketches/cat.PNG',
      'sketches/trip/cat.JPG',
      'sketches/trip/cat.jpeg',
      'sketches/trip/cat.Jpeg',
      'sketches/deep/er/cat.webp',
      'sketches/cat.BMP',
      'sketches/cat.tif',
      'sketches/cat.TIFF',
      'sketches/cat.json',
      'sketches/cat.JSON',
      'sketches/cat.txt',
      'sketches/_defaults.json',
      'sketches/trip/_defaults.json',
      'sketches/my cat+1%.png',
      'sketches/猫.png',
      'sketches/cat.result-1.png',
      'sketches/cat.result.json',
      'sketches/notes.md',
      'other/cat.png',
      'sketchesX/cat.png',
    ];
    const reaches = (key: string) => rules().some((r) => key.startsWith(r.prefix) && key.endsWith(r.suffix));

    it('every key the function wants reaches it, in any case of extension; nothing outside the prefix does', () => {
      const prefix = submit.environmentVariables.SKETCH_PREFIX!;
      for (const key of KEYS) {
        const kind = classifyKey(key, prefix).kind;
        const wanted = kind === 'sketch' || kind === 'sidecar' || kind === 'defaults';
        if (wanted) expect(reaches(key), `${key} (${kind}) must reach submit`).toBe(true);
        if (!key.startsWith(prefix)) expect(reaches(key), `${key} is outside the prefix`).toBe(false);
      }
    });

    it('the keys that reach it but are not wanted (outputs, other files) are skipped with no I/O, in microseconds', async () => {
      const prefix = submit.environmentVariables.SKETCH_PREFIX!;
      const unwanted = KEYS.filter((k) => reaches(k) && !['sketch', 'sidecar', 'defaults'].includes(classifyKey(k, prefix).kind));
      expect(unwanted).toEqual(['sketches/cat.result-1.png', 'sketches/cat.result.json', 'sketches/notes.md']);
      // Every endpoint points at a closed port: any request would fail the invocation.
      const closed = 'http://127.0.0.1:9';
      const handler = createSubmitHandler({
        env: { ...submit.environmentVariables, OSS_ENDPOINT: closed, TABLESTORE_ENDPOINT: closed, DASHSCOPE_BASE_URL: closed, POLLER_FUNCTION_NAME: '' },
        logSink: () => undefined,
      });
      const context = { requestId: 'r', credentials: { accessKeyId: 'STS.example', accessKeySecret: 'example-secret', securityToken: 'token' } };
      const events = unwanted.map((key) => ossEvent(REQUIRED.OSS_BUCKET, key));
      for (const event of events) OssEventSchema.parse(JSON.parse(event.toString('utf8'))); // the trigger's event schema
      const rounds = 200;
      const started = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) {
        for (const event of events) {
          const result = (await handler(event, context)) as SubmitResult;
          expect(result.outcomes.map((o) => o.action)).toEqual(['skipped']);
        }
      }
      const perEventUs = Number(process.hrtime.bigint() - started) / 1000 / (rounds * events.length);
      process.stdout.write(`\n[deploy figures]\n  skipping an unwanted key in submit (warm): ${perEventUs.toFixed(0)} µs per event\n`);
      expect(perEventUs).toBeLessThan(5_000);
    });
  });
});

describe('the optional failure destination', () => {
  it('uncommented, renders from SKETCHFLOW_FAILURE_DESTINATION; the policy gains exactly its permission', async () => {
    const block = /^( +)# destinationConfig:\n\1#   onFailure:\n\1#     destination: (.+)$/m;
    expect(sYaml).toMatch(block);
    const enabled = sYaml.replace(block, (_all, indent: string, value: string) => `${indent}destinationConfig:\n${indent}  onFailure:\n${indent}    destination: ${value}`);
    const arn = `acs:mns:cn-beijing:${ACCOUNT}:/queues/sketchflow-dlq/messages`;
    const result = await preview({ ...REQUIRED, SKETCHFLOW_FAILURE_DESTINATION: arn }, enabled);
    expect(result.error).toBeUndefined();
    const submit = Spec.parse(result.spec).resources.submit.props;
    expect(submit.asyncInvokeConfig.destinationConfig).toEqual({ onFailure: { destination: arn } });

    const params = { accountId: ACCOUNT, region: 'cn-beijing', bucket: REQUIRED.OSS_BUCKET, prefix: 'sketches/', instance: REQUIRED.TABLESTORE_INSTANCE, table: 'sketchflow_jobs', pollerFunction: 'sketchflow-poller' };
    const without = renderPolicy('function', params);
    const withDestination = renderPolicy('function', { ...params, failureDestination: arn });
    expect(withDestination.Statement.slice(0, -1)).toEqual(without.Statement);
    expect(withDestination.Statement.at(-1)).toEqual({ Effect: 'Allow', Action: ['mns:SendMessage'], Resource: [arn] });
    expect(renderPolicy('function', { ...params, failureDestination: 'acs:mns:cn-beijing::/topics/dlq/messages' }).Statement.at(-1)).toEqual({
      Effect: 'Allow',
      Action: ['mns:PublishMessage'],
      Resource: [`acs:mns:cn-beijing:${ACCOUNT}:/topics/dlq/messages`],
    });
  }, 30_000);
});
