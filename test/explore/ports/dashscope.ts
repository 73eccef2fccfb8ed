/**
 * A fake DashScope account: one FIFO of tasks with exactly one RUNNING (PENDING → RUNNING →
 * SUCCEEDED | FAILED), progressing with the virtual clock. It answers at the HTTP level (status +
 * JSON or HTML body, or a dropped connection), so the same answers can be handed to the real
 * adapter (model-wire.ts) or turned into the adapter's errors directly (model-direct.ts).
 *
 * Reply classes, chosen per call (faults.ts): refusals with a DashScope body (nothing created);
 * a gateway 5xx with an HTML body or a dropped connection, each either after the task was created
 * or before; account-level refusals; odd task statuses; lost tasks (forgotten → UNKNOWN, or
 * FAILED InternalError.Timeout). Every create is recorded, with what the server did.
 */
import type { Faults } from './faults.js';
import { isKnownModel, modelSpec } from '../../../lib/models/index.js';
import type { Actor } from '../scheduler.js';
import { keyOfUrl } from './objects.js';
import { taggedPng } from './png.js';

export type Reply = { status: number; json: Record<string, unknown> } | { status: number; html: string } | { status: number; bytes: Buffer } | { drop: 'reset' | 'timeout' };

export type TaskFate = 'succeed' | 'partial' | 'fail' | 'timeout' | 'forget';

export interface FakeTask {
  id: string;
  create: CreateRecord;
  createdAt: number;
  duration: number;
  fate: TaskFate;
  /** When a 'forget' task vanishes (absolute, virtual ms). */
  forgetAt?: number;
  startAt?: number;
  endAt?: number;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'UNKNOWN';
}

export type CreateClass =
  | 'ok'
  | 'throttled'
  | 'internal'
  | 'invalid'
  | 'account-key'
  | 'account-arrears'
  | 'account-unpurchased'
  | 'account-free-quota'
  | 'gateway-after'
  | 'gateway-before'
  | 'reset-after'
  | 'timeout-after'
  | 'reset-before';

/** Classes in which the server created the task. */
export const CREATED_CLASSES: ReadonlySet<CreateClass> = new Set(['ok', 'gateway-after', 'reset-after', 'timeout-after']);

export interface CreateRecord {
  seq: number;
  at: number;
  /** When the pipeline sent the request (a request may arrive later, within its deadline). */
  sentAt: number;
  /** The model the create named. */
  model: string;
  actor: string;
  actorId: number;
  prompt: string;
  style: string;
  n: number;
  sketchKey?: string;
  /** The request as it arrived (prompt, sketch URL, parameters). */
  input: { prompt?: string; sketch_image_url?: string; base_image_url?: string; images?: string[]; parameters?: object };
  cls: CreateClass;
  /** Set when the server created a task (paid). */
  taskId?: string;
  /** The reply never reached the caller (its signal aborted, or it crashed on the reply). */
  undelivered?: boolean;
}

const CREATE_FAULTS = [
  ['throttled', 4],
  ['internal', 2],
  ['invalid', 0.5],
  ['gateway-after', 3],
  ['gateway-before', 2],
  ['reset-after', 2],
  ['timeout-after', 2],
  ['reset-before', 1],
  ['account-key', 0.4],
  ['account-arrears', 0.4],
  ['account-unpurchased', 0.4],
  ['account-free-quota', 0.4],
] as const satisfies ReadonlyArray<readonly [CreateClass, number]>;

type QueryClass = 'odd-succeeded' | 'odd-empty' | 'odd-missing' | 'odd-queued' | 'throttled' | 'internal' | 'gateway' | 'reset' | 'denied';
const QUERY_FAULTS = [
  ['odd-succeeded', 2],
  ['odd-empty', 1],
  ['odd-missing', 1],
  ['odd-queued', 1],
  ['throttled', 2],
  ['internal', 1],
  ['gateway', 1],
  ['reset', 1],
  ['denied', 1],
] as const satisfies ReadonlyArray<readonly [QueryClass, number]>;
const CALL_FAULTS = [
  ['throttled', 2],
  ['internal', 1],
  ['gateway', 1],
  ['reset', 1],
] as const satisfies ReadonlyArray<readonly [QueryClass, number]>;
const TASK_FATES = [
  ['forget', 3],
  ['timeout', 2],
  ['fail', 1],
  ['partial', 1],
] as const satisfies ReadonlyArray<readonly [TaskFate, number]>;
const DOWNLOAD_FAULTS = [
  ['reset', 4],
  ['expired', 1],
] as const satisfies ReadonlyArray<readonly [string, number]>;

export const RESULT_HOST = 'dashscope-result-bj.oss-cn-beijing.aliyuncs.com';
const GATEWAY_HTML = (status: number) => `<html><head><title>${status} Gateway Time-out</title></head><body><center><h1>${status} Gateway Time-out</h1></center><hr><center>nginx</center></body></html>`;

function beijing(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 23);
}

const concurrencyOf = (model: string): number => (isKnownModel(model) ? modelSpec(model).limits.concurrency : 1);

function errorJson(status: number, code: string, message: string, requestId: string): Reply {
  return { status, json: { request_id: requestId, code, message } };
}

export class FakeDashScope {
  readonly tasks = new Map<string, FakeTask>();
  readonly creates: CreateRecord[] = [];
  /** Live tasks in FIFO order; each model runs the first few of its own (`running`). */
  private queue: FakeTask[] = [];
  /** Per model: its processing slots (how many tasks it runs at once). */
  private readonly slots = new Map<string, Array<{ freeAt: number; task?: FakeTask }>>();
  private requestSeq = 0;
  /** Scenario tests: every task runs this long (otherwise a seeded 0.3–2.5 s). */
  taskDurationMs: number | undefined;
  onCreate: ((record: CreateRecord) => void) | undefined;
  /** A task was lost by DashScope (forgotten, or FAILED InternalError.Timeout). */
  onLost: ((task: FakeTask) => void) | undefined;
  /** A task ended SUCCEEDED, FAILED or CANCELED (DashScope publishes its completion event). */
  onFinish: ((task: FakeTask) => void) | undefined;

  constructor(
    private readonly now: () => number,
    private readonly faults: Faults,
    /**
     * A create that arrives later than this after it was sent is dropped on the way (a gateway's
     * timeout): what we assume of the service — it never acts on a create older than the
     * client's request timeout (README "What we assume"; the core aborts its create then).
     */
    private readonly createWindowMs = Infinity,
  ) {}

  private requestId(): string {
    return `req-${++this.requestSeq}`;
  }

  /**
   * Moves tasks along to the current time, one event at a time in time order. Each model runs up
   * to its concurrency of the account's tasks at once, FIFO (lib/models: 1, 2 or 5); the rest wait
   * PENDING until one of its running tasks ends.
   */
  progress(): void {
    const now = this.now();
    for (;;) {
      const running = this.running();
      for (const t of running) if (t.startAt === undefined) t.startAt = Math.max(t.createdAt, this.takeSlot(t));
      let next = Infinity;
      let which: FakeTask | undefined;
      for (const t of running) {
        if (t.startAt! + t.duration < next) {
          next = t.startAt! + t.duration;
          which = t;
        }
      }
      for (const t of this.queue) {
        if (t.forgetAt !== undefined && t.forgetAt < next) {
          next = t.forgetAt;
          which = t;
        }
      }
      if (!which || next > now) return;
      const wasRunning = running.includes(which);
      this.queue.splice(this.queue.indexOf(which), 1);
      if (wasRunning) this.freeSlot(which, next);
      which.endAt = next;
      if (which.fate === 'forget') {
        which.status = 'UNKNOWN';
        if (!wasRunning) which.startAt = undefined;
        this.onLost?.(which);
      } else {
        which.status = which.fate === 'succeed' || which.fate === 'partial' ? 'SUCCEEDED' : 'FAILED';
        if (which.fate === 'timeout') this.onLost?.(which);
        this.onFinish?.(which);
      }
    }
  }

  /** The live tasks each model is running now: the first `concurrency` of its FIFO. */
  private running(): FakeTask[] {
    const count = new Map<string, number>();
    const out: FakeTask[] = [];
    for (const t of this.queue) {
      const model = t.create.model;
      const k = count.get(model) ?? 0;
      if (k < concurrencyOf(model)) out.push(t);
      count.set(model, k + 1);
    }
    return out;
  }

  /** A model's processing slots: when each came free, and the task on it. */
  private slotsOf(model: string): Array<{ freeAt: number; task?: FakeTask }> {
    let slots = this.slots.get(model);
    if (!slots) this.slots.set(model, (slots = Array.from({ length: concurrencyOf(model) }, () => ({ freeAt: 0 }))));
    return slots;
  }

  /** Puts `t` on the model's slot that came free first; returns when that was. */
  private takeSlot(t: FakeTask): number {
    const free = this.slotsOf(t.create.model).filter((x) => !x.task).sort((a, b) => a.freeAt - b.freeAt)[0]!;
    free.task = t;
    return free.freeAt;
  }

  private freeSlot(t: FakeTask, at: number): void {
    const slot = this.slotsOf(t.create.model).find((x) => x.task === t);
    if (slot) {
      slot.task = undefined;
      slot.freeAt = at;
    }
  }

  /** Scenario tests: DashScope forgets this task now (a later query answers UNKNOWN). */
  lose(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (!t || !this.queue.includes(t)) return;
    t.fate = 'forget';
    t.forgetAt = this.now();
    this.progress();
  }

  /** When the next task ends (or is forgotten) as things stand: Infinity when none is live. */
  nextChangeAt(): number {
    this.progress();
    let next = Infinity;
    for (const t of this.running()) next = Math.min(next, (t.startAt ?? this.now()) + t.duration);
    for (const t of this.queue) if (t.forgetAt !== undefined) next = Math.min(next, t.forgetAt);
    return next;
  }

  live(): number {
    this.progress();
    return this.queue.length;
  }

  liveTasks(): FakeTask[] {
    this.progress();
    return [...this.queue];
  }

  private statusOf(t: FakeTask): FakeTask['status'] {
    if (this.queue.includes(t)) return this.running().includes(t) ? 'RUNNING' : 'PENDING';
    return t.status;
  }

  create(
    actor: Actor,
    body: { model?: string; input?: { prompt?: string; sketch_image_url?: string; base_image_url?: string; images?: string[] }; parameters?: { style?: string; n?: number } },
    sentAt = this.now(),
  ): Reply {
    // Each model reads the image from its own field (lib/models).
    const imageUrl = body.input?.sketch_image_url ?? body.input?.base_image_url ?? body.input?.images?.[0];
    if (this.now() - sentAt > this.createWindowMs) return { drop: 'timeout' };
    this.progress();
    const requestId = this.requestId();
    const cls: CreateClass = this.faults.choose(actor, 'create', CREATE_FAULTS) ?? 'ok';
    const record: CreateRecord = {
      seq: this.creates.length + 1,
      at: this.now(),
      sentAt,
      model: body.model ?? 'wanx-sketch-to-image-lite',
      actor: actor.name,
      actorId: actor.id,
      prompt: body.input?.prompt ?? '',
      style: body.parameters?.style ?? '',
      n: body.parameters?.n ?? 4,
      input: { ...body.input, ...(body.parameters ? { parameters: body.parameters } : {}) },
      cls,
      ...(imageUrl ? { sketchKey: keyOfUrl(imageUrl) } : {}),
    };
    this.creates.push(record);
    if (CREATED_CLASSES.has(cls)) {
      const id = `00000000-0000-4000-8000-${String(this.tasks.size + 1).padStart(12, '0')}`;
      record.taskId = id;
      let fate: TaskFate = this.faults.choose(actor, 'lose', TASK_FATES, id) ?? 'succeed';
      if (fate === 'partial' && record.n < 2) fate = 'succeed';
      const duration = this.taskDurationMs ?? 300 + Math.floor(this.faults.draw() * 2200);
      const task: FakeTask = { id, create: record, createdAt: record.at, duration, fate, status: 'PENDING' };
      if (fate === 'forget') task.forgetAt = record.at + Math.floor(this.faults.draw() * (duration + 1500));
      this.tasks.set(id, task);
      this.queue.push(task);
    }
    this.onCreate?.(record);
    switch (cls) {
      case 'ok':
        return { status: 200, json: { request_id: requestId, output: { task_id: record.taskId, task_status: 'PENDING' } } };
      case 'throttled':
        return errorJson(429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', requestId);
      case 'internal':
        return errorJson(500, 'InternalError', 'An internal error has occured, please try again later or contact service support.', requestId);
      case 'invalid':
        return errorJson(400, 'InvalidParameter', 'The request parameter is invalid.', requestId);
      case 'account-key':
        return errorJson(401, 'InvalidApiKey', 'Invalid API-key provided.', requestId);
      case 'account-arrears':
        return errorJson(400, 'Arrearage', 'Access denied, please make sure your account is in good standing.', requestId);
      case 'account-unpurchased':
        return errorJson(403, 'AccessDenied.Unpurchased', 'Access to model denied. Please make sure you are eligible for using the model.', requestId);
      case 'account-free-quota':
        return errorJson(429, 'Throttling.AllocationQuota', 'Free allocated quota exceeded.', requestId);
      case 'gateway-after':
        return { status: 504, html: GATEWAY_HTML(504) };
      case 'gateway-before':
        return { status: 502, html: GATEWAY_HTML(502) };
      case 'reset-after':
      case 'reset-before':
        return { drop: 'reset' };
      case 'timeout-after':
        return { drop: 'timeout' };
    }
  }

  query(actor: Actor, taskId: string): Reply {
    this.progress();
    const requestId = this.requestId();
    const fault = this.faults.choose(actor, 'query', QUERY_FAULTS, taskId);
    const common = this.callFault(fault, requestId);
    if (common) return common;
    if (fault === 'denied') return errorJson(403, 'AccessDenied', 'Access denied.', requestId);
    const t = this.tasks.get(taskId);
    const status = t ? this.statusOf(t) : 'UNKNOWN';
    if (!t || status === 'UNKNOWN') return { status: 200, json: { request_id: requestId, output: { task_id: taskId, task_status: 'UNKNOWN' } } };
    const output: Record<string, unknown> = { task_id: t.id, task_status: status, submit_time: beijing(t.createdAt) };
    if (t.startAt !== undefined && status !== 'PENDING') output.scheduled_time = beijing(t.startAt);
    let usage: Record<string, unknown> | undefined;
    if (t.endAt !== undefined) {
      output.end_time = beijing(t.endAt);
      if (status === 'SUCCEEDED') {
        const results: Array<Record<string, string>> = [];
        for (let i = 1; i <= t.create.n; i++) {
          results.push(t.fate === 'partial' && i === t.create.n ? { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' } : { url: resultUrl(t.id, i) });
        }
        output.results = results;
        usage = { image_count: results.filter((r) => r.url).length };
      } else if (t.fate === 'timeout') {
        Object.assign(output, { code: 'InternalError.Timeout', message: 'An internal timeout error has occured during execution, please try again later or contact service support.' });
      } else if (status === 'FAILED') {
        Object.assign(output, { code: 'InvalidParameter.DataInspection', message: 'The media format is not supported or incorrect for the data inspection.' });
      }
    }
    if (fault === 'odd-succeeded') output.task_status = 'Succeeded';
    else if (fault === 'odd-empty') output.task_status = '';
    else if (fault === 'odd-missing') delete output.task_status;
    else if (fault === 'odd-queued') output.task_status = 'QUEUED';
    return { status: 200, json: { request_id: requestId, output, ...(usage ? { usage } : {}) } };
  }

  cancel(actor: Actor, taskId: string): Reply {
    this.progress();
    const requestId = this.requestId();
    const common = this.callFault(this.faults.choose(actor, 'cancel', CALL_FAULTS, taskId), requestId);
    if (common) return common;
    const t = this.tasks.get(taskId);
    if (!t || this.statusOf(t) !== 'PENDING') {
      return errorJson(400, 'UnsupportedOperation', 'Failed to cancel the task, please confirm if the task is in PENDING status.', requestId);
    }
    this.queue.splice(this.queue.indexOf(t), 1);
    t.status = 'CANCELED';
    t.endAt = this.now();
    this.onFinish?.(t);
    return { status: 200, json: { request_id: requestId } };
  }

  /** One page of the account's tasks in `status` (PENDING or RUNNING), newest first. */
  list(actor: Actor, status: string): Reply {
    this.progress();
    const requestId = this.requestId();
    const common = this.callFault(this.faults.choose(actor, 'list', CALL_FAULTS, status), requestId);
    if (common) return common;
    const data = this.queue
      .filter((t) => this.statusOf(t) === status)
      .reverse()
      .map((t) => ({ task_id: t.id, status, model_name: t.create.model, gmt_create: beijing(t.createdAt) }));
    return { status: 200, json: { request_id: requestId, data, total: data.length, page_no: 1, page_size: 100 } };
  }

  download(actor: Actor, url: string): Reply {
    const m = /^https:\/\/[^/]+\/1d\/explorer\/([^/]+)\/(\d+)\.png/.exec(url);
    const fault = this.faults.choose(actor, 'download', DOWNLOAD_FAULTS, url);
    if (fault === 'reset') return { drop: 'reset' };
    if (!m || fault === 'expired') return { status: 403, html: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>' };
    return { status: 200, bytes: taggedPng(`result ${m[1]} ${m[2]}`, 8, 8) };
  }

  private callFault(fault: QueryClass | undefined, requestId: string): Reply | undefined {
    switch (fault) {
      case 'throttled':
        return errorJson(429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', requestId);
      case 'internal':
        return errorJson(500, 'InternalError', 'An internal error has occured, please try again later or contact service support.', requestId);
      case 'gateway':
        return { status: 502, html: GATEWAY_HTML(502) };
      case 'reset':
        return { drop: 'reset' };
      default:
        return undefined;
    }
  }
}

export function resultUrl(taskId: string, index: number): string {
  return `https://${RESULT_HOST}/1d/explorer/${taskId}/${index}.png?Expires=1900000000&OSSAccessKeyId=LTAIexplorer&Signature=explorer`;
}

/** The task and index a result image's bytes were made for. */
export function resultTagOf(tag: string | undefined): { taskId: string; index: number } | undefined {
  const m = tag ? /^result (\S+) (\d+)$/.exec(tag) : null;
  return m ? { taskId: m[1]!, index: Number(m[2]) } : undefined;
}
