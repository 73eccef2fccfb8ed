/**
 * End-to-end harness: the local pipeline (real handlers, real SDKs, loopback stand-ins) with
 * compressed time, plus helpers to upload like a user and wait for manifests like a reader.
 */
import type OSS from 'ali-oss';
import { createRowStore } from '../../lib/adapters/tablestore.js';
import { manifestKey } from '../../lib/contract/keys.js';
import { ManifestSchema, type Manifest } from '../../lib/contract/manifest.js';
import { Jobs } from '../../lib/core/jobs.js';
import { STATE_MESSAGE } from '../../lib/core/journal.js';
import type { OssEmulator } from '../../lib/local/oss/index.js';
import { startLocalPipeline, type LocalPipeline, type LocalPipelineOptions } from '../../lib/local/pipeline.js';
import { EVENT_SHAPES, type EventShape } from '../../lib/local/fc.js';
import { waitFor } from './wait.js';

export const FAST_ENV = {
  // The rest's safety kick as soon as FC allows (whole seconds); the 400 ms timer comes first anyway.
  EVENT_SAFETY_SECONDS: '1',
  POLL_INTERVAL_SECONDS: '0.05',
  POLL_BUDGET_SECONDS: '3',
  PROMPT_GRACE_SECONDS: '1',
  LOG_LEVEL: 'debug',
};

/**
 * How the completion events reach the poller in the end-to-end tests (lib/local/fc.ts
 * EVENT_SHAPES): `SKETCHFLOW_EVENT_SHAPE=batch npx vitest run test/e2e` runs them all under
 * another shape; test/e2e/task-events.test.ts runs its faults under every shape.
 */
export function testEventShape(): EventShape {
  const shape = process.env.SKETCHFLOW_EVENT_SHAPE ?? 'cloudevent';
  if (!(EVENT_SHAPES as readonly string[]).includes(shape)) throw new Error(`SKETCHFLOW_EVENT_SHAPE must be one of ${EVENT_SHAPES.join(', ')} (got ${shape})`);
  return shape as EventShape;
}

export interface TestPipeline extends LocalPipeline {
  client: OSS;
  logs: string[];
  put(key: string, body: Buffer | string, meta?: Record<string, string>): Promise<void>;
  manifest(jobKey: string): Manifest | undefined;
  waitForManifest(jobKey: string, timeoutMs?: number): Promise<Manifest>;
  /** Polls `check` until it returns a value (not undefined/false). */
  waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  /** DashScope tasks created for a sketch key (accepted creates). */
  submissions(sketchKey: string): number;
  logRecords(): Array<Record<string, unknown>>;
  /** The job's state-change log records (`{"msg":"job state","jobKey","version","state",…}`), in order. */
  states(jobKey: string): Array<Record<string, unknown>>;
  /**
   * Creates of the job whose outcome was unknown (no answer before the deadline: an aborted create
   * on a busy machine counts too). Each may cost one more submission, counted (SPEC §4.2 a).
   */
  unknownOutcomes(jobKey: string): number;
  /** The pipeline's job table (lib/core/jobs.ts), opened with the stack's key; one instance per pipeline. */
  jobs(): Jobs;
}

/** The manifest of `jobKey` as stored in the OSS emulator (no request recorded), if there is one. */
export function manifestIn(oss: Pick<OssEmulator, 'peek'>, jobKey: string): Manifest | undefined {
  const obj = oss.peek(manifestKey(jobKey));
  return obj ? ManifestSchema.parse(JSON.parse(obj.body.toString('utf8'))) : undefined;
}

export async function startTestPipeline(options: LocalPipelineOptions = {}): Promise<TestPipeline> {
  const logs: string[] = [];
  const p = await startLocalPipeline({
    timeScale: 0.005,
    timerEveryMs: 400,
    retryDelayMs: (attempt) => 30 * attempt,
    logSink: (line) => logs.push(line),
    events: { shape: testEventShape() },
    ...options,
    env: { ...FAST_ENV, ...options.env },
    // DashScope's rate limits count real seconds (the simulator's README): on a busy machine,
    // creates, queries and listings bunch up and would meet 429s no test asked for (a throttled
    // listing holds a slot 30 s). Tests of throttling inject it.
    dashscope: { seed: 1, submitsPerSecond: 1000, queriesPerSecond: 1000, ...options.dashscope },
  });
  const client = p.stack.ossClient();
  const manifest = (jobKey: string) => manifestIn(p.stack.oss, jobKey);
  const lastLogs = () => logs.slice(-30).join('\n');
  const logRecords = () => logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  let jobs: Jobs | undefined;

  return {
    ...p,
    client,
    logs,
    async put(key, body, meta) {
      const buffer = typeof body === 'string' ? Buffer.from(body) : body;
      await client.put(key, buffer, meta ? ({ meta } as unknown as OSS.PutObjectOptions) : undefined);
    },
    manifest,
    waitForManifest: (jobKey, timeoutMs = 15_000) => waitFor(`the manifest of ${jobKey}`, () => manifest(jobKey), { timeoutMs, detail: lastLogs }),
    waitFor: (what, check, timeoutMs = 15_000) => waitFor(what, check, { timeoutMs, detail: lastLogs }),
    submissions: (sketchKey) => p.stack.dashscope.records.submissionsFor(`/${sketchKey}`).length,
    logRecords,
    states: (jobKey) => logRecords().filter((r) => r.msg === STATE_MESSAGE && r.jobKey === jobKey),
    unknownOutcomes: (jobKey) => logRecords().filter((r) => r.msg === 'submission outcome unknown' && r.jobKey === jobKey).length,
    jobs() {
      const { accessKeyId, accessKeySecret } = p.stack.describe().tablestore;
      return (jobs ??= new Jobs(createRowStore(p.config.tablestore, { accessKeyId, accessKeySecret })));
    },
  };
}
