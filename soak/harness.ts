/**
 * Runs a plan against the local pipeline: the real handlers under LocalFunctionCompute, with
 * compressed time, recording what the invariant checks need — every log line, every create call
 * (with the version it was made for), every object the pipeline wrote (with a hash of its bytes),
 * every injected fault and crash — then stops the faults, lets the pipeline drain and collects the
 * final state of the bucket and the table.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createPollerHandler } from '../functions/poller/index.js';
import { createSubmitHandler } from '../functions/submit/index.js';
import { createRowStore } from '../lib/adapters/tablestore.js';
import { Jobs, slotLayout } from '../lib/core/jobs.js';
import { HINT_GRACE_MS } from '../lib/core/sweep.js';
import type { ImageModel, ObjectStore, RowStore, StoredRow } from '../lib/core/ports.js';
import { isTerminal, KIND, type ActiveRecord, type BudgetRecord, type JobRecord, type QueueRecord, type SlotRecord, type TaskRecord } from '../lib/core/records.js';
import { sha256Hex } from '../lib/local/dashscope/random.js';
import { timerEvent, type FcHandler, type FcInvocationContext } from '../lib/local/fc.js';
import type { BucketStore } from '../lib/local/oss/store.js';
import { POLLER_FUNCTION, startLocalPipeline, SUBMIT_FUNCTION, type LocalPipeline } from '../lib/local/pipeline.js';
import { quickResult } from './images.js';
import type { Plan, Action, Upload, FaultAction, CrashMode, DashScopeFault } from './plan.js';
import { jobKeyOfSketchKey, manifestKeyOf, newestVersionOf, sketchOfFetchedKey, type UploadRecord } from './versions.js';

export type BreakMode = 'pay-once' | 'outputs';

/** Time compression: DashScope's 20 s tasks take 100 ms; the pipeline's intervals shrink alike. */
export const TIME = {
  timeScale: 0.005,
  taskSeconds: 20,
  timerEveryMs: 250,
  env: {
    POLL_INTERVAL_SECONDS: '0.02',
    // Long enough that the per-invocation sweep (∝ active jobs, uncompressed real time) is a small part.
    POLL_BUDGET_SECONDS: '3',
    PROMPT_GRACE_SECONDS: '3',
    DASHSCOPE_TIMEOUT_SECONDS: '0.25',
    // DashScope refused the account: one probe after this, doubling (an account fault lasts ≤ 1.5 s).
    ACCOUNT_RETRY_SECONDS: '0.3',
    MAX_IN_FLIGHT: '2',
    // The rest's safety kick as soon as FC allows (30 s × 0.005 would be under its whole second).
    EVENT_SAFETY_SECONDS: '1',
    MAX_ATTEMPTS: '3',
    // Jobs held back by a used-up budget end BudgetExceeded after 2 s instead of 24 h.
    MAX_QUEUE_HOURS: String(2 / 3600),
    LOG_LEVEL: 'info',
  },
  retryDelayMs: (attempt: number) => 40 * 2 ** (attempt - 1),
  /** Function timeouts (s), counted from when an instance takes the event, as in FC. */
  submitTimeout: 10,
  // Below the scheduler lease (budget 3 s + margin 0.75 s), as s.yaml keeps 60 s below 62.5 s.
  pollerTimeout: 3.6,
  /** s.yaml reservedConcurrency: FC runs at most this many at once and holds the rest back. */
  submitConcurrency: 10,
  pollerConcurrency: 3,
} as const;

/**
 * DashScope's simulated clock runs 1/timeScale times faster than every other clock here, and jumps
 * 25 h once. Real clocks agree within seconds, and the pipeline relies on it within a day (its
 * live-task listing asks DashScope for a ±24 h window around our clock). So the simulator's clock
 * starts in the past by half of the whole drift (the run's expected length, compressed, plus the
 * jump), staying within a day of ours from start to end; a run too long for that at the default
 * compression is compressed less.
 */
export function clocksFor(plan: Pick<Plan, 'mixMs' | 'actions'>, now = Date.now()) {
  const expectedSeconds = (plan.mixMs * 1.3) / 1000 + 60;
  const jumpHours = plan.actions.reduce((h, a) => h + (a.type === 'clock-jump' ? a.ms / 3600_000 : 0), 0);
  const budgetHours = 46 - jumpHours; // ±23 h around our clock, centred
  let timeScale: number = TIME.timeScale;
  if ((expectedSeconds * (1 / timeScale - 1)) / 3600 > budgetHours) timeScale = 1 / (1 + (budgetHours * 3600) / expectedSeconds);
  const driftHours = (expectedSeconds * (1 / timeScale - 1)) / 3600 + jumpHours;
  return {
    timeScale,
    // One mean task: "2 submits per window" stays meaningful at any compression.
    rateWindowMs: Math.round(TIME.taskSeconds * 1000 * timeScale),
    simulatorStart: now - Math.round((driftHours / 2) * 3600_000),
  };
}

export interface LogEntry {
  t: number;
  line: string;
  rec?: Record<string, unknown>;
}

export interface CreateCall {
  t0: number;
  t1?: number;
  sketchKey: string;
  jobKey: string;
  version?: string;
  attempts?: number;
  taskId?: string;
  error?: { name: string; code?: string; sent?: boolean };
}

export interface PutRecord {
  t0: number;
  t1?: number;
  key: string;
  ok?: boolean;
  sha?: string;
  bytes?: number;
  error?: string;
  /** Parsed body, for manifests. */
  manifest?: Record<string, unknown>;
  text?: string;
  /** Written by a break mode, not by the pipeline. */
  injected?: boolean;
}

export interface FaultRecord {
  t: number;
  label: string;
  detail: string;
  /** DashScope creates recorded before it (attributes "next task" faults to the task they hit). */
  createsIndex?: number;
  /**
   * Tasks DashScope had created before it (its transitions from nothing): the order tasks were
   * made in, where create records are in the order their replies went out (an early-event fault
   * holds a reply back).
   */
  tasksIndex?: number;
  taskId?: string;
}

export interface CrashRecord {
  t: number;
  step: string;
  jobKey?: string;
  mode: CrashMode;
}

export interface Invocation {
  fn: 'submit' | 'poller';
  /** Queued at (throttled until an instance is free). */
  queued: number;
  t0: number;
  t1?: number;
  /** Stopped dead at a checkpoint (never finishes). */
  dead?: boolean;
  timedOut?: boolean;
  /** Past its timeout: cut off (see killable). */
  killed?: boolean;
  /** --break pay-once: this invocation has had its first look at a job row. */
  sawJob?: boolean;
  keys: string[];
  result?: unknown;
  error?: string;
}

export interface Recorded {
  startEpoch: number;
  mixEndedAt: number;
  drainEndedAt: number;
  drained: boolean;
  logs: LogEntry[];
  calls: CreateCall[];
  downloads: Map<string, Set<string>>; // `${taskId}/${index}` → sha256 of the bytes downloaded
  puts: PutRecord[];
  faults: FaultRecord[];
  crashes: CrashRecord[];
  invocations: Invocation[];
  dropped: Array<{ t: number; fn: string; keys: string[]; error: string }>;
  uploads: UploadRecord[];
  redelivered: { duplicates: number; stale: number; encoded: number; foreign: number; afterFinish: number };
  clockJumps: Array<{ t: number; ms: number }>;
  /** DashScope's clock minus ours at the end, hours (must stay within a day: clocksFor). */
  finalSkewHours: number;
  /** Task ids of the completion events sent for tasks no one created. */
  strayTasks: string[];
}

export interface FinalState {
  objects: Map<string, { etag: string; size: number; lastModified: number; sha: string; body?: Buffer }>;
  rows: {
    job: Array<StoredRow<JobRecord>>;
    active: Array<StoredRow<ActiveRecord>>;
    queue: Array<StoredRow<QueueRecord>>;
    slot: Array<StoredRow<SlotRecord>>;
    budget: Array<StoredRow<BudgetRecord>>;
    task: Array<StoredRow<TaskRecord>>;
  };
}

export interface RunOutput {
  recorded: Recorded;
  final: FinalState;
  pipeline: LocalPipeline;
  secrets: string[];
}

function hashing(onDone: (sha: string, bytes: number, body: Buffer) => void, keep = false): Transform {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (keep) chunks.push(chunk);
      done(null, chunk);
    },
    flush(done) {
      onDone(hash.digest('hex'), bytes, keep ? Buffer.concat(chunks) : Buffer.alloc(0));
      done();
    },
  });
}

function keysOf(event: Buffer): string[] {
  try {
    const body = JSON.parse(event.toString('utf8')) as { events?: Array<{ oss?: { object?: { key?: string } } }> };
    return (body.events ?? []).map((e) => String(e.oss?.object?.key ?? '?'));
  } catch {
    return [];
  }
}

/** The object key of a presigned URL (`http://host/<key>?…`), without normalizing `..`. */
export function keyOfPresignedUrl(url: string): string {
  const m = /^[a-z]+:\/\/[^/]+\/([^?#]*)/i.exec(url);
  try {
    return decodeURIComponent(m?.[1] ?? '');
  } catch {
    return m?.[1] ?? '';
  }
}

export interface RunHooks {
  progress?: (line: string) => void;
  breakMode?: BreakMode;
  drainTimeoutMs?: number;
  /** Write every pipeline log line here (JSON lines, with `t` = ms since start). */
  logFile?: string;
}

/** FC's per-function concurrency: at most `limit` instances; further events wait their turn. */
class Instances {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}

const current = new AsyncLocalStorage<Invocation>();

/**
 * Function Compute kills an invocation at its timeout; in one process we cannot, so a timed-out
 * invocation is cut off from the world instead: every later call it makes to OSS, Tablestore or
 * DashScope never returns (and nothing it logs is kept). Without this, a poller that outlived its
 * lease would keep working beside its successor, which the deployed timeouts rule out (s.yaml).
 */
function killable<T extends object>(port: T): T {
  return new Proxy(port, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (current.getStore()?.killed ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

function withTimeout(context: FcInvocationContext, timeoutS: number): FcInvocationContext {
  return { ...context, function: { ...context.function, timeout: timeoutS } };
}

export async function runPlan(plan: Plan, hooks: RunHooks = {}): Promise<RunOutput> {
  const startEpoch = Date.now();
  const now = () => Date.now() - startEpoch;
  const rec: Recorded = {
    startEpoch,
    mixEndedAt: 0,
    drainEndedAt: 0,
    drained: false,
    logs: [],
    calls: [],
    downloads: new Map(),
    puts: [],
    faults: [],
    crashes: [],
    invocations: [],
    dropped: [],
    uploads: [],
    redelivered: { duplicates: 0, stale: 0, encoded: 0, foreign: 0, afterFinish: 0 },
    clockJumps: [],
    finalSkewHours: 0,
    strayTasks: [],
  };
  const plannedJobs = new Map(plan.jobs.map((j) => [j.jobKey, j]));
  let calm = false;

  // ---------------------------------------------------------------- log sink
  const lastSubmitting = new Map<string, { version: string; attempts: number }>();
  /** Progress counters for the drain: 'job state' lines logged, submit invocations finished. */
  let jobStateLines = 0;
  let submitsDone = 0;
  const logSink = (line: string) => {
    if (current.getStore()?.killed) return;
    const entry: LogEntry = { t: now(), line };
    try {
      entry.rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // not JSON: kept as text
    }
    rec.logs.push(entry);
    const r = entry.rec;
    if (r?.msg === 'job state') {
      jobStateLines++;
      if (r.state === 'SUBMITTING' && typeof r.jobKey === 'string') lastSubmitting.set(r.jobKey, { version: String(r.version), attempts: Number(r.attempts ?? 0) });
    }
  };

  // ---------------------------------------------------------------- crashes between steps
  const pendingCrashes = new Map<string, CrashMode[]>();
  for (const job of plan.jobs) {
    for (const c of job.crashes) {
      const k = `${c.step}@${job.jobKey}`;
      pendingCrashes.set(k, [...(pendingCrashes.get(k) ?? []), c.mode]);
    }
  }
  const armedPollerCrashes: Array<{ step: string; mode: CrashMode }> = [];
  const crash = (step: string, mode: CrashMode, jobKey?: string): void | Promise<void> => {
    rec.crashes.push({ t: now(), step, jobKey, mode });
    if (mode === 'die') {
      const inv = current.getStore();
      if (inv) inv.dead = true;
      return new Promise<void>(() => {}); // stops dead: no finally block, no cleanup
    }
    throw new Error(`soak: injected crash at ${step}${jobKey ? ` for ${jobKey}` : ''}`);
  };
  const checkpoint = (name: string, jobKey?: string): void | Promise<void> => {
    if (current.getStore()?.killed) return new Promise<void>(() => {});
    if (calm) return;
    if (jobKey) {
      const k = `${name}@${jobKey}`;
      const modes = pendingCrashes.get(k);
      if (!modes || modes.length === 0) return;
      const mode = modes.shift()!;
      return crash(name, mode, jobKey);
    }
    const i = armedPollerCrashes.findIndex((a) => a.step === name);
    if (i < 0) return;
    const [armed] = armedPollerCrashes.splice(i, 1);
    return crash(name, armed!.mode);
  };

  // ---------------------------------------------------------------- decorators
  const decorate = {
    model: (m: ImageModel): ImageModel => killable<ImageModel>({
      async createTask(input, options) {
        const sketchKey = sketchOfFetchedKey(keyOfPresignedUrl(input.sketchUrl), rec.uploads);
        const jobKey = jobKeyOfSketchKey(sketchKey);
        const sub = lastSubmitting.get(jobKey);
        const call: CreateCall = { t0: now(), sketchKey, jobKey, ...(sub ? { version: sub.version, attempts: sub.attempts } : {}) };
        rec.calls.push(call);
        try {
          const r = await m.createTask(input, options);
          call.taskId = r.taskId;
          return r;
        } catch (err) {
          const e = err as { name?: string; code?: string; sent?: boolean };
          call.error = { name: String(e?.name ?? 'Error'), ...(e?.code !== undefined ? { code: String(e.code) } : {}), ...(e?.sent !== undefined ? { sent: e.sent } : {}) };
          throw err;
        } finally {
          call.t1 = now();
        }
      },
      getTask: (id) => m.getTask(id),
      cancelTask: (id) => m.cancelTask(id),
      listLiveTasks: () => m.listLiveTasks(),
      async downloadResult(url) {
        const r = await m.downloadResult(url);
        const match = /\/results\/([A-Za-z0-9-]+)\/(\d+)\.png/.exec(url);
        const id = match ? `${match[1]}/${match[2]}` : '?';
        const tee = hashing((sha) => {
          const set = rec.downloads.get(id) ?? new Set<string>();
          set.add(sha);
          rec.downloads.set(id, set);
        });
        r.body.on('error', (err) => tee.destroy(err));
        return { ...r, body: r.body.pipe(tee) };
      },
    }),
    objects: (o: ObjectStore): ObjectStore => {
      return killable<ObjectStore>({
        list: (p) => o.list(p),
        listPage: (p, options) => o.listPage(p, options),
        copy: (from, to, options) => o.copy(from, to, options),
        head: (k, r) => o.head(k, r),
        getRange: (k, s, e, r) => o.getRange(k, s, e, r),
        imageInfo: (k, r) => o.imageInfo(k, r),
        presignGet: (k, ttl, p) => o.presignGet(k, ttl, p),
        delete: async (key) => o.delete(key),
        async put(key, body, options) {
          const put: PutRecord = { t0: now(), key };
          rec.puts.push(put);
          let send: Buffer | Readable = body;
          let copy: Buffer | undefined;
          const copyOutputs = hooks.breakMode === 'outputs' && /\.result-\d+\.png$/.test(key) && plannedJobs.has(key.replace(/\.result-\d+\.png$/, ''));
          if (Buffer.isBuffer(body)) {
            put.sha = sha256Hex(body);
            put.bytes = body.length;
            copy = body;
            if (key.endsWith('.result.json')) {
              put.text = body.toString('utf8');
              try {
                put.manifest = JSON.parse(put.text) as Record<string, unknown>;
              } catch {
                // not JSON: the check reports it
              }
            }
          } else {
            const tee = hashing((sha, bytes, all) => {
              put.sha = sha;
              put.bytes = bytes;
              copy = all;
            }, copyOutputs);
            body.on('error', (err) => tee.destroy(err));
            send = body.pipe(tee);
          }
          try {
            const r = await o.put(key, send, options);
            put.ok = true;
            if (copyOutputs && copy) {
              // --break outputs: a copy under a name the trigger does not know as an output.
              const copyKey = key.replace(/\.result-(\d+)\.png$/, '.result_$1.png');
              rec.puts.push({ t0: now(), key: copyKey, ok: true, injected: true });
              await o.put(copyKey, copy, options).catch(() => undefined);
            }
            return r;
          } catch (err) {
            put.ok = false;
            put.error = (err as Error)?.message ?? String(err);
            throw err;
          } finally {
            put.t1 = now();
          }
        },
      });
    },
    rows: (r: RowStore): RowStore =>
      killable<RowStore>(hooks.breakMode === 'pay-once'
        ? {
            // --break pay-once: the duplicate-event check is gone. The submit function's first look
            // at a job (the one that decides "this version is already recorded") sees another
            // version, so every delivery records and submits its version again; and every write of
            // a job row is unconditional (no optimistic lock to stop a second claim).
            get: async <T>(k: string, id: string) => {
              const row = await r.get<T>(k, id);
              const inv = current.getStore();
              if (k !== KIND.job || inv?.fn !== 'submit' || inv.sawJob) return row;
              inv.sawJob = true;
              if (!row) return row;
              const job = row.value as unknown as JobRecord;
              return { ...row, value: { ...job, current: { ...job.current, id: 'not-this-version' } } as unknown as T };
            },
            getMany: (k, ids) => r.getMany(k, ids),
            put: (k, id, value, expect) => r.put(k, id, value, k === KIND.job ? 'any' : expect),
            delete: (k, id, expect) => r.delete(k, id, k === KIND.job ? 'any' : expect),
            scan: (k, o) => r.scan(k, o),
          }
        : r),
  };

  // ---------------------------------------------------------------- handlers, as FC runs them
  let submitReal: FcHandler | undefined;
  let pollerReal: FcHandler | undefined;
  const instances = { submit: new Instances(TIME.submitConcurrency), poller: new Instances(TIME.pollerConcurrency) };
  const running = new Set<Invocation>();
  const wrap = (fn: 'submit' | 'poller', real: () => FcHandler | undefined): FcHandler => async (event, context) => {
    const inv: Invocation = { fn, queued: now(), t0: 0, keys: fn === 'submit' ? keysOf(event) : [] };
    rec.invocations.push(inv);
    running.add(inv);
    const release = await instances[fn].acquire();
    inv.t0 = now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = (fn === 'submit' ? TIME.submitTimeout : TIME.pollerTimeout) * 1000;
      const result = await Promise.race([
        // The handler's own deadline (its outputs leases reach to it) is this timeout, as in FC.
        current.run(inv, () => real()!(event, withTimeout(context, timeoutMs / 1000))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            inv.timedOut = true;
            inv.killed = true;
            reject(new Error(`Function timed out after ${timeoutMs / 1000} seconds`));
          }, timeoutMs);
        }),
      ]);
      inv.result = result;
      return result;
    } catch (err) {
      inv.error = (err as Error)?.message ?? String(err);
      throw err;
    } finally {
      clearTimeout(timer);
      inv.t1 = now();
      if (fn === 'submit') submitsDone++;
      release();
      running.delete(inv); // done, or killed (cut off: it can do nothing more)
    }
  };
  const busyInvocations = () => [...running].filter((i) => !i.dead).length;

  const clocks = clocksFor(plan);
  const pipeline = await startLocalPipeline({
    timeScale: clocks.timeScale,
    taskSeconds: TIME.taskSeconds,
    dashscope: {
      seed: plan.seed,
      submitsPerSecond: 2,
      queriesPerSecond: 20,
      rateWindowMs: clocks.rateWindowMs,
      renderResult: quickResult,
      startTime: clocks.simulatorStart,
    },
    timerEveryMs: TIME.timerEveryMs,
    retryDelayMs: TIME.retryDelayMs,
    // FC's own timeout would count the time an event waits for an instance: ours (above) does not.
    submitTimeout: 600,
    pollerTimeout: 600,
    env: { ...TIME.env, FIT: plan.fit, MAX_IMAGES_PER_DAY: String(plan.budget) },
    events: { shape: plan.eventShape },
    handlers: { submit: wrap('submit', () => submitReal), poller: wrap('poller', () => pollerReal) },
    onDropped: (fn, event, lastError) => rec.dropped.push({ t: now(), fn, keys: keysOf(event), error: lastError }),
  });
  const runtimeOptions = { env: pipeline.env, logSink, checkpoint, decorate };
  submitReal = createSubmitHandler(runtimeOptions) as FcHandler;
  pollerReal = createPollerHandler(runtimeOptions) as FcHandler;

  const { stack, fc } = pipeline;
  const { oss, dashscope: ds, tablestore: ts } = stack;

  // Events as the trigger delivered them, to deliver again.
  const delivered = new Map<string, Array<{ etag: string; event: { events: unknown[] } }>>();
  const unsubscribe = oss.onObjectCreated({ prefix: pipeline.config.sketchPrefix }, (event) => {
    const e = event.events[0] as { oss: { object: { key: string; eTag: string } } };
    const list = delivered.get(e.oss.object.key) ?? [];
    list.push({ etag: e.oss.object.eTag, event });
    delivered.set(e.oss.object.key, list);
  });

  // ---------------------------------------------------------------- executing actions
  const store = (oss as unknown as { storeOf(bucket: string): BucketStore }).storeOf(oss.bucket);
  const doUpload = (u: Upload) => {
    const { etag } = oss.putObject(u.key, u.body, u.meta ? { meta: u.meta } : {});
    if (u.logicalSize !== undefined) {
      // A huge object without allocating it: only its first bytes exist, its recorded size is huge.
      const record = store.head(u.key);
      if (record) record.size = u.logicalSize;
    }
    const modified = store.head(u.key)?.lastModified ?? now();
    rec.uploads.push({ t: now(), key: u.key, etag: etag.replace(/"/g, ''), modified, size: u.logicalSize ?? u.body.length, job: u.job, role: u.role });
  };

  const encodeKey = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/');
  const redeliver = (a: Extract<Action, { type: 'redeliver' }>) => {
    const list = delivered.get(a.key) ?? [];
    const chosen = a.which === 'previous' && list.length >= 2 ? list[list.length - 2]! : list[list.length - 1];
    if (!chosen) return;
    const event = JSON.parse(JSON.stringify(chosen.event)) as { events: Array<{ oss: { object: { key: string } } }> };
    if (a.keyStyle === 'encoded') {
      event.events[0]!.oss.object.key = encodeKey(a.key);
      rec.redelivered.encoded++;
    }
    if (a.which === 'previous' && list.length >= 2) rec.redelivered.stale++;
    else rec.redelivered.duplicates += a.copies;
    const body = Buffer.from(JSON.stringify(event));
    for (let k = 0; k < a.copies; k++) {
      if (a.sync) void fc.invoke(SUBMIT_FUNCTION, body).catch(() => undefined);
      else fc.invokeAsync(SUBMIT_FUNCTION, body);
    }
  };

  const foreign = (a: Extract<Action, { type: 'foreign-event' }>) => {
    rec.redelivered.foreign++;
    const e = {
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      eventTime: new Date().toISOString(),
      eventVersion: '1.0',
      region: 'cn-beijing',
      oss: {
        bucket: { name: a.what === 'other-bucket' ? 'someone-elses-bucket' : oss.bucket, arn: `acs:oss:cn-beijing:${oss.accountId}:${oss.bucket}` },
        object: { key: a.key, size: 10, eTag: 'D41D8CD98F00B204E9800998ECF8427E' },
      },
    };
    const body = a.what === 'malformed' ? Buffer.from('{"events":[{"eventName":"x"}]}') : Buffer.from(JSON.stringify({ events: [e] }));
    void fc.invoke(SUBMIT_FUNCTION, body).catch(() => undefined);
  };

  const liveTasks = (): string[] =>
    ds.records.creates
      .filter((c) => c.taskId !== undefined)
      .map((c) => c.taskId!)
      .filter((id) => {
        const s = ds.task(id)?.status;
        return s === 'PENDING' || s === 'RUNNING';
      });

  let tasksSeen = 0;
  let transitionsSeen = 0;
  const tasksCreated = () => {
    const all = ds.records.transitions;
    for (; transitionsSeen < all.length; transitionsSeen++) if (all[transitionsSeen]!.from === null) tasksSeen++;
    return tasksSeen;
  };
  const fault = (label: string, detail: string, extra: Partial<FaultRecord> = {}) =>
    rec.faults.push({ t: now(), label, detail, createsIndex: ds.records.creates.length, tasksIndex: tasksCreated(), ...extra });

  // What each DashScope fault class has had injected, to tell whether it has struck yet.
  const injectedOf = new Map<string, number>();
  const inject = (cls: string, n: number) => injectedOf.set(cls, (injectedOf.get(cls) ?? 0) + n);
  let acceptedAtNextTaskFault = -1;
  const acceptedCreates = () => ds.records.creates.reduce((n, c) => n + (c.taskId ? 1 : 0), 0);
  const nextTaskClass = (f: DashScopeFault) => f.kind === 'partial' || ((f.kind === 'failTask' || f.kind === 'loseTask') && (f.target === 'next' || liveTasks().length === 0));
  const strikesNow = (f: DashScopeFault): boolean => {
    if (f.kind === 'failCreates') return ds.records.creates.filter((c) => c.fault === 'failCreates').length >= (injectedOf.get('failCreates') ?? 0);
    if (f.kind === 'hang' || f.kind === 'reset' || f.kind === 'gateway') {
      const cls = `${f.kind}/${f.request}/${f.when}`;
      return ds.records.networkFaults.filter((x) => x.kind === f.request && x.fault === f.kind && x.when === f.when).length >= (injectedOf.get(cls) ?? 0);
    }
    if (nextTaskClass(f)) return acceptedAtNextTaskFault < 0 || acceptedCreates() > acceptedAtNextTaskFault;
    return true;
  };

  const doFault = (a: FaultAction) => {
    switch (a.type) {
      case 'dashscope': {
        const f = a.fault;
        switch (f.kind) {
          case 'failCreates': {
            ds.failNextCreates(f.count, f.code);
            inject('failCreates', f.count);
            const status = f.code.startsWith('Throttling') ? '429' : '5xx';
            fault(`dashscope create ${status}`, `${f.count}× ${f.code}`);
            return;
          }
          case 'hang':
          case 'reset':
            if (f.kind === 'hang') ds.hangNext(f.request, f.count, f.when);
            else ds.resetNext(f.request, f.count, f.when);
            inject(`${f.kind}/${f.request}/${f.when}`, f.count);
            fault(
              f.request === 'create' ? `dashscope create ${f.kind === 'hang' ? 'timeout' : 'reset'} (${f.when})` : `dashscope ${f.request} ${f.kind === 'hang' ? 'timeout' : 'reset'}`,
              `${f.count}× ${f.kind} ${f.request} ${f.when}`,
            );
            return;
          case 'slow':
            ds.slow(f.request, f.ms, f.count);
            fault('dashscope slow answers', `${f.count}× +${f.ms} ms on ${f.request}`);
            return;
          case 'failTask': {
            if (nextTaskClass(f)) acceptedAtNextTaskFault = acceptedCreates();
            const live = liveTasks();
            const target = f.target === 'live' && live.length > 0 ? live[Math.floor(f.pick * live.length)] : undefined;
            ds.failTask(f.code, target ? { taskId: target } : {});
            fault(f.code === 'InternalError.Timeout' ? 'dashscope task timed out (InternalError.Timeout)' : 'dashscope task failed', `${f.code} on ${target ?? 'the next task'}`, target ? { taskId: target } : {});
            return;
          }
          case 'partial':
            acceptedAtNextTaskFault = acceptedCreates();
            ds.partialFailure(f.failed, f.code ? { code: f.code } : {});
            fault('dashscope partial failure', `${f.failed} image(s) of the next task${f.code ? ` (${f.code})` : ''}`);
            return;
          case 'gateway':
            ds.gateway(f.request, { count: 1, status: f.status, body: f.body, when: f.when });
            inject(`gateway/${f.request}/${f.when}`, 1);
            fault(`dashscope ${f.request} gateway ${f.status} (${f.when})`, `${f.status} with ${f.body === 'html' ? 'an HTML' : 'an empty'} body, ${f.when === 'after' ? 'after the work was done' : 'nothing done'}`);
            return;
          case 'queryStatus':
            ds.queryStatus(f.status, { count: f.count });
            fault('dashscope status outside the documented set', `${f.count}× ${JSON.stringify(f.status)}`);
            return;
          case 'account':
            ds.account(f.problem);
            fault('dashscope account refused', `${f.problem} for ${f.ms} ms, then fixed`);
            setTimeout(() => ds.account(null), f.ms).unref();
            return;
          case 'loseTask': {
            if (nextTaskClass(f)) acceptedAtNextTaskFault = acceptedCreates();
            const live = liveTasks();
            const target = f.target === 'live' && live.length > 0 ? live[Math.floor(f.pick * live.length)] : undefined;
            ds.loseTask(target);
            fault('dashscope lost task', target ? `lost ${target}` : 'the next task', target ? { taskId: target } : {});
            return;
          }
        }
        return;
      }
      case 'tablestore':
        ts.injectFault({ ...(a.operation ? { operation: a.operation } : {}), count: a.count, kind: a.kind });
        fault(`tablestore ${a.kind === 'busy' ? '503 busy' : a.kind === 'reset' ? 'connection reset' : '409 conflict'}`, `${a.count}× ${a.operation ?? 'any operation'}`);
        return;
      case 'oss':
        oss.injectFault({ action: a.action, count: a.count, kind: a.kind, ...(a.kind === 'error' ? { status: 503 } : {}) });
        fault(`oss ${a.kind === 'error' ? '503' : 'connection reset'}`, `${a.count}× ${a.action}`);
        return;
      case 'poller-crash':
        armedPollerCrashes.push({ step: a.step, mode: a.mode });
        return;
      case 'poller-overlap': {
        fault('overlapping poller invocations', `${a.count} at once`);
        const event = timerEvent('soak-overlap');
        for (let k = 0; k < a.count; k++) void fc.invoke(POLLER_FUNCTION, event).catch(() => undefined);
        return;
      }
      case 'clock-jump':
        rec.clockJumps.push({ t: now(), ms: a.ms });
        ds.advance(a.ms);
        fault('clock jump past the 24 h retention', `DashScope clock +${a.ms / 3600_000} h`);
        return;
      case 'event':
        ds.eventFault(a.fault, { count: a.count, ...(a.delayMs !== undefined ? { delayMs: a.delayMs } : {}) });
        fault(`completion event ${a.fault === 'lose' ? 'lost' : a.fault === 'duplicate' ? 'duplicated' : a.fault === 'reorder' ? 'out of order' : a.fault === 'early' ? "before the create's reply" : 'late'}`, `${a.count}× ${a.fault}${a.delayMs !== undefined ? ` (${a.delayMs / 1000} s simulated)` : ''}`);
        return;
      case 'stray-event':
        rec.strayTasks.push(a.taskId);
        ds.strayEvent({ taskId: a.taskId, status: a.status, ...(a.model ? { model: a.model } : {}) });
        fault('completion event for a task no one created', `${a.taskId} ${a.status}${a.model ? ` (${a.model})` : ''}`, { taskId: a.taskId });
        return;
    }
  };

  // Cursed jobs: DashScope loses every task of theirs while faults are on.
  const cursedPaths = new Set<string>();
  for (const j of plan.jobs.filter((x) => x.cursed)) {
    for (const a of plan.actions) if (a.type === 'upload' && a.job === j.index && a.role === 'sketch') cursedPaths.add(`/${a.key}`);
  }
  // Create records are pushed once complete (and task ids are unique): each is looked at once.
  let cursedSeen = 0;
  const curse =
    cursedPaths.size > 0
      ? setInterval(() => {
          if (calm) return;
          const creates = ds.records.creates;
          for (; cursedSeen < creates.length; cursedSeen++) {
            const c = creates[cursedSeen]!;
            if (!c.taskId || !c.sketchPath || !cursedPaths.has(c.sketchPath)) continue;
            if (ds.loseTask(c.taskId)) fault('dashscope lost task', `cursed job: lost ${c.taskId}`, { taskId: c.taskId });
          }
        }, 5)
      : undefined;

  const progress = hooks.progress;
  const ticker = progress
    ? setInterval(() => {
        const manifests = rec.puts.filter((p) => p.ok && p.key.endsWith('.result.json')).length;
        progress(
          `  t=${(now() / 1000).toFixed(0)}s ${calm ? 'draining' : 'mixing'}: ${rec.uploads.length} uploads, ${ds.records.creates.filter((c) => c.taskId).length} tasks, ${manifests} manifest writes, ${rec.faults.length} faults, ${rec.crashes.length} crashes`,
        );
      }, 5000)
    : undefined;

  try {
    // ---------------------------------------------------------------- the mixed phase
    const pendingActions: Action[] = [...plan.actions];
    while (pendingActions.length > 0) {
      const a = pendingActions[0]!;
      const wait = a.at - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pendingActions.shift();
      if (a.type === 'dashscope' && !strikesNow(a.fault)) {
        // The previous fault of its kind has not struck yet: stacking would aim both at one request.
        if (now() < plan.mixMs + 5000) {
          const later: Action = { ...a, at: now() + 150 };
          const i = pendingActions.findIndex((x) => x.at > later.at);
          pendingActions.splice(i < 0 ? pendingActions.length : i, 0, later);
        }
        continue;
      }
      switch (a.type) {
        case 'upload':
          doUpload(a);
          break;
        case 'redeliver':
          redeliver(a);
          break;
        case 'foreign-event':
          foreign(a);
          break;
        default:
          doFault(a);
      }
    }
    const rest = plan.mixMs - now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    rec.mixEndedAt = now();

    // ---------------------------------------------------------------- calm: faults stop, the pipeline drains
    calm = true;
    ds.clearFaults();
    ts.clearFaults();
    armedPollerCrashes.length = 0;
    const creds = stack.describe().tablestore;
    const rows = createRowStore(pipeline.config.tablestore, { accessKeyId: creds.accessKeyId, accessKeySecret: creds.accessKeySecret });
    const jobsView = new Jobs(rows);
    // Uploads happen only in the mixed phase (above): each job's newest version is settled now.
    const newestOf = new Map(plan.jobs.map((job) => [job.jobKey, newestVersionOf(job.jobKey, rec.uploads)]));
    const drain = async (): Promise<boolean> => {
      // A cap, not the test: the stall check below decides (no progress while work is left). A
      // busy machine drains slower, and must not turn that into a finding.
      const deadline = now() + (hooks.drainTimeoutMs ?? 300_000 + plan.sketches * 1000);
      let quietChecks = 0;
      // Progress: anything written, submitted, logged as a state change, or a submit finished. No progress for this long
      // while the table is idle means nothing will answer the missing jobs any more: they are lost.
      const stallMs = pipeline.config.promptGraceMs + 4000;
      let lastSignature = '';
      let lastProgressAt = now();
      let leaseEndsAt = 0;
      while (now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        // Finished submit invocations count too: a burst of re-deliveries changes nothing else.
        const signature = `${rec.puts.length}/${ds.records.creates.length}/${jobStateLines}/${submitsDone}`;
        if (signature !== lastSignature) {
          lastSignature = signature;
          lastProgressAt = now();
        }
        const jobsDone = plan.jobs.every((job) => {
          const newest = newestOf.get(job.jobKey);
          if (!newest || job.expect.kind === 'refused') return true; // refused by name: no manifest to wait for
          const m = oss.peek(manifestKeyOf(job.jobKey));
          if (!m) return false;
          try {
            const source = (JSON.parse(m.body.toString('utf8')) as { source?: { etag?: string; sidecar?: { etag?: string } } }).source;
            return source?.etag === newest.sketchEtag && (source?.sidecar?.etag ?? undefined) === newest.sidecarEtag;
          } catch {
            return false;
          }
        });
        const storeIdle = await (async () => {
          const [jobRows, activeRows, queueRows, slots] = await Promise.all([
            jobsView.scanAll<JobRecord>(KIND.job),
            jobsView.scanAll<ActiveRecord>(KIND.active),
            jobsView.scanAll<QueueRecord>(KIND.queue),
            jobsView.readSlots(slotLayout(pipeline.config)),
          ]);
          // A crashed writer's outputs lease runs to its deadline (SPEC §4.5): waiting it out is not a stall.
          // So is a hint a submit wrote and did not record (it lost a race): the sweep clears it
          // once no submit can still be about to record it.
          leaseEndsAt = Math.max(0, ...jobRows.map((r) => r.value.outputs?.until ?? 0), ...activeRows.map((r) => r.value.since + HINT_GRACE_MS));
          return jobRows.every((r) => isTerminal(r.value.current.state)) && activeRows.length === 0 && queueRows.length === 0 && slots.every((s) => s.slot.state === 'free');
        })().catch(() => false);
        // Deferred invocations waiting out their delay (a resting poller's safety kick) are not
        // work in progress: on an idle table they find nothing to do.
        const quiet = busyInvocations() === 0 && fc.running === 0;
        quietChecks = jobsDone && storeIdle && quiet ? quietChecks + 1 : 0;
        if (quietChecks >= 2) {
          return true;
        }
        // An invocation still running may be waiting on a request that hung in the mixed phase:
        // FC cuts it off at its 60 s timeout, so only past that is it a stall.
        const leaseRunning = Date.now() < leaseEndsAt + stallMs || (!quiet && now() - lastProgressAt < 65_000);
        // At rest once already: the next check confirms it (a long wait that just ended is no stall).
        if (quietChecks === 0 && !leaseRunning && now() - lastProgressAt > stallMs && (storeIdle || now() - lastProgressAt > 4 * stallMs)) {
          process.stderr.write(`soak: the drain stalled: jobs done ${jobsDone}, table idle ${storeIdle}, invocations running ${busyInvocations()}, FC running ${fc.running} (${fc.busy - fc.running} deferred)\n`);
          return false;
        }
      }
      return false;
    };
    rec.drained = await drain();
    if (rec.drained) {
      // At-least-once delivery, once more after everything finished: every sketch's last event
      // again. A pipeline that keeps its promise submits nothing new (SPEC §4.2, "replayed after
      // the job finished: still one task"); one that lost its duplicate check pays again here,
      // whatever the timing of the mixed phase was.
      for (const list of delivered.values()) {
        const last = list[list.length - 1];
        if (!last) continue;
        fc.invokeAsync(SUBMIT_FUNCTION, Buffer.from(JSON.stringify(last.event)));
        rec.redelivered.afterFinish++;
      }
      rec.drained = await drain();
    }
    rec.drainEndedAt = now();
    rec.finalSkewHours = Math.round(((ds.now() - Date.now()) / 3600_000) * 10) / 10;
    clearInterval(curse);
    if (ticker) clearInterval(ticker);
    unsubscribe();
    await fc.close();
    if (hooks.logFile) {
      fs.writeFileSync(hooks.logFile, rec.logs.map((l) => JSON.stringify({ t: l.t, ...(l.rec ?? { line: l.line }) })).join('\n') + '\n');
      const invocations = rec.invocations.map(({ result, ...i }) => ({ ...i, ...(i.fn === 'poller' ? { result } : {}) }));
      fs.writeFileSync(`${hooks.logFile}.invocations.json`, JSON.stringify(invocations));
    }

    // ---------------------------------------------------------------- final state
    const objects: FinalState['objects'] = new Map();
    for (const key of oss.keys('')) {
      const o = oss.peek(key);
      if (!o) continue;
      const keep = key.endsWith('.result.json');
      objects.set(key, { etag: o.etag.replace(/"/g, ''), size: o.body.length, lastModified: o.lastModified, sha: sha256Hex(o.body), ...(keep ? { body: o.body } : {}) });
    }
    const [job, activeRows, queue, slot, budget, task] = await Promise.all([
      jobsView.scanAll<JobRecord>(KIND.job),
      jobsView.scanAll<ActiveRecord>(KIND.active),
      jobsView.scanAll<QueueRecord>(KIND.queue),
      jobsView.scanAll<SlotRecord>(KIND.slot),
      jobsView.scanAll<BudgetRecord>(KIND.budget),
      jobsView.scanAll<TaskRecord>(KIND.task),
    ]);
    const final: FinalState = { objects, rows: { job, active: activeRows, queue, slot, budget, task } };

    // Every secret the run handed out: the API key, access key secrets, STS secrets and tokens.
    const d = stack.describe();
    const secrets = [d.dashscope.apiKey, d.oss.accessKeySecret, d.tablestore.accessKeySecret];
    const keys = (stack.credentials as unknown as { keys: Map<string, { accessKeySecret: string; securityToken?: string }> }).keys;
    for (const k of keys.values()) {
      secrets.push(k.accessKeySecret);
      if (k.securityToken) secrets.push(k.securityToken);
    }
    return { recorded: rec, final, pipeline, secrets: [...new Set(secrets)] };
  } finally {
    clearInterval(curse);
    if (ticker) clearInterval(ticker);
    await pipeline.close();
  }
}
