/**
 * Renders the least-privilege RAM policies (README "Deploy"):
 *   deploy/ram-policy.json    the function role: what `submit` and `poller` call, nothing else
 *                             (objects under SKETCH_PREFIX, and the ASCII staging copies under
 *                             STAGING_PREFIX that DashScope fetches for keys it cannot take)
 *   deploy/setup-policy.json  what `sketchflow setup` calls with the deployer's keys
 * The templates carry `${NAME}` placeholders named like the settings (SPEC §6); this fills them in,
 * checks the values, and adds the one permission an optional failure destination needs.
 *
 *   OSS_BUCKET=my-sketches TABLESTORE_INSTANCE=sketchflow ALIBABA_CLOUD_ACCOUNT_ID=1234… \
 *     node bin/run-ts.mjs deploy/ram-policy.ts [--setup] [--account-id ID] > policy.json
 *
 * test/deploy/ram.test.ts runs the pipeline's flows against the emulators and fails if the code
 * makes a request this policy does not allow.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface RamStatement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface RamPolicy {
  Version: '1';
  Statement: RamStatement[];
}

const here = path.dirname(fileURLToPath(import.meta.url));

export const PolicyParamsSchema = z.object({
  accountId: z.string().regex(/^\d{6,20}$/, { message: 'must be the numeric Alibaba Cloud account ID (ALIBABA_CLOUD_ACCOUNT_ID or --account-id)' }),
  region: z.string().regex(/^[a-z]{2}-[a-z0-9-]+$/, { message: "must be a region ID like 'cn-beijing'" }),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, { message: 'must be a bucket name (OSS_BUCKET)' }),
  // RAM reads * and ? in a resource as wildcards: a prefix with them would grant more than it says.
  prefix: z.string().refine((v) => (v === '' || (v.endsWith('/') && !v.startsWith('/'))) && !/[*?"\\]/.test(v), {
    message: "must be a folder like 'sketches/' without * ? \" \\ (SKETCH_PREFIX)",
  }),
  // ASCII (it goes into DashScope's URL), outside the prefix unless the whole bucket is watched (config.ts).
  stagingPrefix: z
    .string()
    .regex(/^([A-Za-z0-9_~-][A-Za-z0-9._~-]*\/)+$/, { message: "must be an ASCII folder like 'sketchflow-staging/' (STAGING_PREFIX)" })
    .default('sketchflow-staging/'),
  // Tablestore instance names are case-insensitive; RAM wants them in lower case.
  instance: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{2,15}$/, { message: 'must be a Tablestore instance name (TABLESTORE_INSTANCE)' })
    .transform((v) => v.toLowerCase()),
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, { message: 'must be a table name (TABLESTORE_TABLE)' }),
  pollerFunction: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, { message: 'must be a function name (s.yaml vars.pollerName)' }),
  failureDestination: z
    .string()
    .regex(/^acs:(mns|fc|eventbridge|mq):[a-z0-9-]*:\d*:\S+$/, { message: 'must be an ARN of an MNS queue or topic, an FC function, an EventBridge bus or a RocketMQ topic' })
    .optional(),
});

export type PolicyParams = z.input<typeof PolicyParamsSchema>;

/** The region and poller name s.yaml deploys (its `vars`): the policy must name the same function. */
export function deployedNames(sYamlPath = path.join(here, '..', 's.yaml')): { region: string; pollerFunction: string } {
  const vars = z
    .object({ region: z.string(), pollerName: z.string() })
    .parse((parseYaml(readFileSync(sYamlPath, 'utf8')) as { vars?: unknown }).vars);
  return { region: vars.region, pollerFunction: vars.pollerName };
}

/** The settings the policy depends on, read like the functions read them (names of SPEC §6); names from s.yaml. */
export function paramsFromEnv(env: Record<string, string | undefined>, overrides: Partial<PolicyParams> = {}): PolicyParams {
  const value = (name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined);
  const deployed = deployedNames();
  return {
    accountId: value('ALIBABA_CLOUD_ACCOUNT_ID') ?? '',
    region: deployed.region,
    bucket: value('OSS_BUCKET') ?? '',
    prefix: value('SKETCH_PREFIX') ?? 'sketches/',
    stagingPrefix: value('STAGING_PREFIX') ?? 'sketchflow-staging/',
    instance: value('TABLESTORE_INSTANCE') ?? '',
    table: value('TABLESTORE_TABLE') ?? 'sketchflow_jobs',
    pollerFunction: deployed.pollerFunction,
    ...(value('SKETCHFLOW_FAILURE_DESTINATION') ? { failureDestination: value('SKETCHFLOW_FAILURE_DESTINATION') } : {}),
    ...overrides,
  };
}

/** What FC needs from the function role to deliver to a failure destination (fc.md §2.3). */
export function destinationStatement(arn: string, accountId: string): RamStatement {
  const [, service, region, account, rest] = /^acs:([^:]+):([^:]*):([^:]*):(.*)$/.exec(arn) ?? [];
  const resource = `acs:${service}:${region}:${account || accountId}:${rest}`;
  const action =
    service === 'mns'
      ? rest!.includes('/topics/')
        ? 'mns:PublishMessage'
        : 'mns:SendMessage'
      : service === 'fc'
        ? 'fc:InvokeFunction'
        : service === 'eventbridge'
          ? 'eventbridge:PutEvents'
          : 'mq:PUB';
  return { Effect: 'Allow', Action: [action], Resource: [resource] };
}

export class PolicyParamsError extends Error {
  override readonly name = 'PolicyParamsError';
}

/** Fills a template; `kind` 'function' is the role of both functions, 'setup' the deployer's. */
export function renderPolicy(kind: 'function' | 'setup', input: PolicyParams): RamPolicy {
  const parsed = PolicyParamsSchema.safeParse(input);
  if (!parsed.success) {
    throw new PolicyParamsError(parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`).join('; '));
  }
  const p = parsed.data;
  if (p.prefix !== '' && (p.stagingPrefix.startsWith(p.prefix) || p.prefix.startsWith(p.stagingPrefix))) {
    throw new PolicyParamsError(`stagingPrefix must be a folder outside the prefix '${p.prefix}' (STAGING_PREFIX)`);
  }
  const values: Record<string, string> = {
    ACCOUNT_ID: p.accountId,
    REGION: p.region,
    OSS_BUCKET: p.bucket,
    SKETCH_PREFIX: p.prefix,
    STAGING_PREFIX: p.stagingPrefix,
    TABLESTORE_INSTANCE: p.instance,
    TABLESTORE_TABLE: p.table,
    POLLER_FUNCTION_NAME: p.pollerFunction,
  };
  const template = readFileSync(path.join(here, kind === 'function' ? 'ram-policy.json' : 'setup-policy.json'), 'utf8');
  const text = template.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) throw new PolicyParamsError(`template placeholder ${whole} has no value`);
    return JSON.stringify(v).slice(1, -1);
  });
  const policy = JSON.parse(text) as RamPolicy;
  if (kind === 'function' && p.failureDestination) policy.Statement.push(destinationStatement(p.failureDestination, p.accountId));
  return policy;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { values } = parseArgs({ options: { setup: { type: 'boolean' }, 'account-id': { type: 'string' }, region: { type: 'string' } }, strict: true });
    const overrides: Partial<PolicyParams> = {
      ...(values['account-id'] ? { accountId: values['account-id'] } : {}),
      ...(values.region ? { region: values.region } : {}),
    };
    const policy = renderPolicy(values.setup ? 'setup' : 'function', paramsFromEnv(process.env, overrides));
    process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`ram-policy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
