/**
 * DashScope simulator (issue 4): a loopback stand-in for Model Studio's async image API with
 * `wanx-sketch-to-image-lite` — create/query/cancel/list, one running task per key with a FIFO
 * queue, real error shapes, rate limits, result images drawn from the sketch, temporary uploads
 * (`oss://`), fault injection and records. CONTRACT — other modules rely on these names.
 * The pieces live beside this file, one job each; simulator.ts wires them together.
 */
import type { AccountProblem } from './errors.js';
import type { ApiRequestKind, FaultSpec, RequestKind } from './faults.js';
import type { Switches, SwitchesInput } from './switches.js';
import type { EventFaultKind, EventOptions } from './events.js';
import type { Records } from './records.js';
import { createSimulator } from './simulator.js';
import type { Task } from './tasks.js';
import type { RenderInput } from './renderer.js';

export type { ApiRequestKind, FaultSpec, RequestKind } from './faults.js';
export type { RenderInput } from './renderer.js';
export type { Switches, SwitchesInput } from './switches.js';
export { MODEL_SPECS, specFor, uniqueKeyOf, type ModelSpec, type TaskRequest } from './models/index.js';
export type { AccountProblem } from './errors.js';
export { EVENT_SOURCE, EVENT_TYPE, finishEvent, type TaskFinishEvent, type EventOptions, type EventFaultKind } from './events.js';
export type { EventRecord } from './records.js';
export type { Records, RecordsSnapshot, CreateRecord, QueryRecord, CancelRecord, TransitionRecord, BusyInterval, TaskStatus } from './records.js';

export interface DashScopeSimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  apiKeys?: string[]; // default: one generated key
  /** Real seconds per simulated second: 0.01 runs a 20 s task in 0.2 s. Default 1. */
  timeScale?: number;
  /** Mean simulated task duration in seconds (default 20, with jitter). */
  taskSeconds?: number;
  /** Per model, instead of `taskSeconds` (the models differ: doodle ≈ 5–15 s, wan2.5 ≈ 1–2 min; models.md). */
  modelTaskSeconds?: Record<string, number>;
  /** Creates per rate window per account and model, for every model (default: each model's own: 2, 2, 5). */
  submitsPerSecond?: number;
  queriesPerSecond?: number; // default 20
  seed?: number; // jitter and fault randomness
  /** Jitter of task durations, as a fraction (default 0.25 = ±25 %). */
  jitter?: number;
  /** Simulated epoch ms at start (default: the real now). */
  startTime?: number;
  /** Rate-limit window in REAL ms (default 1000; see rate-limiter.ts for why real). */
  rateWindowMs?: number;
  /** getPolicy calls per window per key+model (default 100, as documented). */
  uploadPoliciesPerSecond?: number;
  /** Result URL lifetime, simulated ms (default 24 h). */
  resultUrlTtlMs?: number;
  /** Task data retention after the end, simulated ms (default 24 h); then UNKNOWN. */
  retentionMs?: number;
  /** Temporary upload lifetime, simulated ms (default 48 h). */
  uploadTtlMs?: number;
  /** Upload policy lifetime, simulated seconds (default 300). */
  policyTtlSeconds?: number;
  /** A task still PENDING this long after submission fails InternalError.Timeout (simulated ms, default 3 h). */
  taskTimeoutMs?: number;
  /** Real ms before a sketch download times out (default 10 000). */
  fetchTimeoutMs?: number;
  /** Simulated ms a refused sketch takes to fail, at least (default 1000). */
  downloadFailMs?: number;
  /**
   * Completion events (events.ts): `onEvent` is called with each CloudEvent, `url` gets it POSTed
   * as JSON; `accountId` fills `aliyunaccountid`; `earlyHoldMs` caps (real ms) how long an `early`
   * fault holds a create's reply. No target = events are only recorded.
   */
  events?: EventOptions & { earlyHoldMs?: number };
  /** Switches for behaviour no public source confirms (switches.ts; README "Switches for unconfirmed behaviour"). */
  unconfirmed?: SwitchesInput;
  /**
   * Model names the create endpoint accepts (default: every served model — wanx-sketch-to-image-lite,
   * wanx2.1-imageedit, wan2.5-i2i-preview). A name without a spec speaks the sketch model's shape.
   */
  models?: string[];
  /** Per-model limits instead of the documented ones (creates per rate window, tasks running at once per account). */
  modelLimits?: Record<string, { submitsPerSecond?: number; concurrency?: number }>;
  /**
   * Draws a result image (default: the full renderer, a few hundred ms of CPU per image). Long
   * runs that only need distinct, valid PNGs per task and index (the soak) pass a cheap one.
   */
  renderResult?: (input: RenderInput) => Promise<Buffer>;
}

/** A read-only view of a task, for assertions. */
export type TaskSnapshot = Readonly<Pick<Task, 'id' | 'apiKeyId' | 'status' | 'submitAt' | 'scheduledAt' | 'endAt' | 'duration' | 'code' | 'message' | 'imageCount'>> & {
  request: Readonly<Task['request']>;
};

export interface DashScopeSimulator {
  baseUrl: string; // http://127.0.0.1:PORT/api/v1
  apiKey: string;
  /** How records name `apiKey`. */
  apiKeyId: string;
  /** Every accepted key (the first is `apiKey`). */
  apiKeys: string[];
  /** http://127.0.0.1:PORT — result images, the upload host and /__admin live here too. */
  origin: string;
  /** Simulated clock (epoch ms). */
  now(): number;
  /** Jump the simulated clock forward (e.g. past the 24 h retention). Takes effect at once. */
  advance(ms: number): void;
  /** Requests, transitions, busy intervals, in-flight maxima, billing; `submissionsFor(path)`. */
  readonly records: Records;
  /** Resolves when no sketch fetch and no event delivery is in flight (after advance(), before asserting). */
  flush(): Promise<void>;
  task(id: string): TaskSnapshot | undefined;

  /** Any fault, as `POST /__admin/faults` takes it. False if a targeted task does not exist. */
  inject(spec: FaultSpec): boolean;
  /** The next `count` creates fail with `code` (status and message from the catalogue unless given). */
  failNextCreates(count: number, code: string, options?: { status?: number; message?: string }): void;
  /** The next `count` requests of `kind` (after the key check) answer `code`'s error unprocessed; status and message as for failNextCreates. */
  failNextRequests(kind: ApiRequestKind, count: number, code: string, options?: { status?: number; message?: string }): void;
  /** The next `count` requests of `kind` never get an answer (`after`: processed, answer lost). */
  hangNext(kind: RequestKind, count?: number, when?: 'before' | 'after'): void;
  /** The next `count` requests of `kind` have their connection reset. */
  resetNext(kind: RequestKind, count?: number, when?: 'before' | 'after'): void;
  /** Adds `ms` real latency to requests of `kind` (`count` omitted: until clearFaults()). */
  slow(kind: RequestKind | 'all', ms: number, count?: number): void;
  /** The task `taskId` (default: the next one created) ends FAILED with `code`. */
  failTask(code: string, options?: { taskId?: string; message?: string }): boolean;
  /** The next task loses `failed` of its images (per-image `{code, message}`, default InternalError.Timeout). */
  partialFailure(failed: number, options?: { code?: string; message?: string }): void;
  /** Forget task `taskId` now, or (no id) the next task when its turn to run comes; it answers UNKNOWN. */
  loseTask(taskId?: string): boolean;
  /** A gateway answers the next `count` requests of `kind` with `status` (502) and a non-DashScope body (`html`); `after`: processed first. */
  gateway(kind: ApiRequestKind, options?: { count?: number; status?: number; body?: 'html' | 'empty' | 'text'; when?: 'before' | 'after' }): void;
  /** The next `count` queries (of `taskId`, or any) show `task_status: status` (`null`: no field). */
  queryStatus(status: string | null, options?: { taskId?: string; count?: number }): void;
  /** The account refuses calls with `problem` until fixed (`null`); `apiKeyId` omitted = every key. */
  account(problem: AccountProblem | null, options?: { apiKeyId?: string; kinds?: ApiRequestKind[] }): void;
  /** The next `count` completion events (or `taskId`'s) are lost / duplicated / late / reordered; `early`: the next create's reply waits for its event. */
  eventFault(fault: EventFaultKind, options?: { count?: number; taskId?: string; delayMs?: number }): void;
  /** Sends an event now for a task no one created. */
  strayEvent(options?: { taskId?: string; status?: string; model?: string }): void;
  /** Changes switches for unconfirmed behaviour until clearFaults(). */
  setSwitches(set: Partial<Switches>): void;
  switches(): Readonly<Switches>;
  /** Drops queued faults and account problems, and puts the switches back to their start values. */
  clearFaults(): void;

  close(): Promise<void>;
}

export async function startDashScopeSimulator(options: DashScopeSimulatorOptions = {}): Promise<DashScopeSimulator> {
  return createSimulator(options);
}
