/**
 * The DashScope HTTP API under /api/v1: create, query, cancel, list, and the upload policy.
 * Order of checks on create, as a gateway would: key (401) → async header (403) → injected
 * failure → rate limit (429) → model and body (400). The other routes: key → injected failure →
 * rate limit → the work.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { redactDeep } from '../../redact.js';
import type { ApiKeys } from './auth.js';
import { formatBeijing, parseCompactBeijing, type SimClock } from './clock.js';
import { ApiError, E } from './errors.js';
import type { ApiRequestKind, FaultBook } from './faults.js';
import { BodyTooLarge, readBody } from '../http.js';
import { apiErrorReply, header, jsonReply, newRequestId, type Reply } from './http.js';
import type { RateLimiter } from './rate-limiter.js';
import { sketchUrlParts, type CreateRecord, type Records } from './records.js';
import type { Task, TaskEngine } from './tasks.js';
import type { TemporaryUploads } from './uploads.js';
import { parseCreateBody } from './validation.js';

export interface ApiDeps {
  keys: ApiKeys;
  limiter: RateLimiter;
  faults: FaultBook;
  engine: TaskEngine;
  records: Records;
  uploads: TemporaryUploads;
  clock: SimClock;
  limits: { submitsPerSecond: number; queriesPerSecond: number; uploadPoliciesPerSecond: number };
  models: string[];
  /** Simulated duration of the next task (seeded jitter). */
  nextDuration(): number;
}

const MAX_BODY = 1024 * 1024;

export async function createTask(deps: ApiDeps, req: IncomingMessage): Promise<Reply> {
  const requestId = newRequestId();
  const at = deps.clock.now();
  const record: CreateRecord = { at, realAt: Date.now(), apiKeyId: '', requestId, status: 0, body: undefined };
  let raw: unknown;
  try {
    record.apiKeyId = deps.keys.authenticate(req);
    raw = await readJson(req);
    record.body = redactDeep(raw);
    const url = (raw as { input?: { sketch_image_url?: unknown } } | null)?.input?.sketch_image_url;
    if (typeof url === 'string') Object.assign(record, sketchUrlParts(url));
    if (header(req, 'x-dashscope-async')?.toLowerCase() !== 'enable') throw ApiError.of(E.syncNotSupported);
    throwInjected(deps, 'create', record);
    if (!deps.limiter.tryTake(record.apiKeyId, 'create', deps.limits.submitsPerSecond)) throw ApiError.of(E.rateQuota);
    if (raw === undefined) throw ApiError.of(E.badJson);
    const model = (raw as { model?: unknown } | null)?.model;
    if (typeof model === 'string' && !deps.models.includes(model)) throw ApiError.of(E.modelNotExist);
    const request = parseCreateBody(raw);
    if (/^oss:\/\//i.test(request.sketchUrl) && header(req, 'x-dashscope-ossresourceresolve')?.toLowerCase() !== 'enable') {
      throw ApiError.of(E.ossNotResolved);
    }
    const task = deps.engine.create(record.apiKeyId, randomUUID(), requestId, request, deps.nextDuration());
    Object.assign(record, { status: 200, taskId: task.id, n: request.n, promptTruncated: request.promptTruncated });
    return jsonReply(200, { request_id: requestId, output: { task_id: task.id, task_status: 'PENDING' } });
  } catch (err) {
    const e = asApiError(err);
    Object.assign(record, { status: e.status, code: e.code });
    return apiErrorReply(e, requestId);
  } finally {
    deps.records.creates.push(record);
  }
}

export async function queryTask(deps: ApiDeps, req: IncomingMessage, taskId: string): Promise<Reply> {
  const requestId = newRequestId();
  const realAt = Date.now();
  const noted: Injected = {};
  let apiKeyId = '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    throwInjected(deps, 'query', noted);
    if (!deps.limiter.tryTake(apiKeyId, 'query', deps.limits.queriesPerSecond)) throw ApiError.of(E.rateQuota);
    const task = deps.engine.lookup(apiKeyId, taskId);
    if (task) await deps.engine.settle(task);
    const body = taskView(task, taskId, requestId);
    deps.records.queries.push({ at: deps.clock.now(), realAt, apiKeyId, requestId, taskId, status: 200, taskStatus: body.output.task_status });
    return jsonReply(200, body);
  } catch (err) {
    const e = asApiError(err);
    deps.records.queries.push({ at: deps.clock.now(), realAt, apiKeyId, requestId, taskId, status: e.status, code: e.code, ...noted });
    return apiErrorReply(e, requestId);
  }
}

export async function cancelTask(deps: ApiDeps, req: IncomingMessage, taskId: string): Promise<Reply> {
  const requestId = newRequestId();
  const noted: Injected = {};
  let apiKeyId = '';
  let reply: Reply;
  let code: string | undefined;
  try {
    apiKeyId = deps.keys.authenticate(req);
    throwInjected(deps, 'cancel', noted);
    const task = deps.engine.lookup(apiKeyId, taskId);
    if (task) await deps.engine.settle(task);
    // Unknown, expired and no-longer-PENDING tasks all get the one "cannot cancel" error.
    if (!task || !deps.engine.cancel(task)) throw ApiError.of(E.cancelNotPending);
    // The cancel reply body is unconfirmed; an empty success with the request id is the safe guess.
    reply = jsonReply(200, { request_id: requestId });
  } catch (err) {
    const e = asApiError(err);
    code = e.code;
    reply = apiErrorReply(e, requestId);
  }
  deps.records.cancels.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, requestId, taskId, status: reply.status, code, ...noted });
  return reply;
}

/**
 * `GET /tasks`. The real response fields are unconfirmed (dashscope.md §2); this answers
 * `{request_id, data:[{task_id, status, model_name, gmt_create, start_time, end_time, …}], total,
 * page_no, page_size}`, newest first, times as `YYYY-MM-DD HH:mm:ss.SSS` Beijing. The filter
 * window (`start_time`/`end_time`, `YYYYMMDDhhmmss` Beijing) applies to submission time. Only the
 * caller's own account (= key) is listed.
 */
export function listTasks(deps: ApiDeps, req: IncomingMessage, url: URL): Reply {
  const requestId = newRequestId();
  const noted: Injected = {};
  let apiKeyId = '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    throwInjected(deps, 'list', noted);
    if (!deps.limiter.tryTake(apiKeyId, 'query', deps.limits.queriesPerSecond)) throw ApiError.of(E.rateQuota);
    const q = url.searchParams;
    const time = (name: string) => {
      const v = q.get(name);
      if (v === null || v === '') return undefined;
      const ms = parseCompactBeijing(v);
      if (ms === undefined) throw new ApiError(400, 'InvalidParameter', `Value error, ${name} must be YYYYMMDDhhmmss (got ${JSON.stringify(v)})`);
      return ms;
    };
    const int = (name: string, dflt: number, lo: number, hi: number) => {
      const v = q.get(name);
      if (v === null || v === '') return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < lo || n > hi) throw new ApiError(400, 'InvalidParameter', `Value error, ${name} must be an integer between ${lo} and ${hi} (got ${JSON.stringify(v)})`);
      return n;
    };
    const pageNo = int('page_no', 1, 1, 1_000_000);
    const pageSize = int('page_size', 10, 1, 100);
    const to = time('end_time');
    const all = deps.engine.list(apiKeyId, {
      from: time('start_time'),
      // Second granularity: end_time 12:00:00 includes 12:00:00.999.
      to: to === undefined ? undefined : to + 999,
      status: q.get('status') || undefined,
      model: q.get('model_name') || undefined,
    });
    const page = all.slice((pageNo - 1) * pageSize, pageNo * pageSize);
    deps.records.lists.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, status: 200, total: all.length });
    return jsonReply(200, {
      request_id: requestId,
      data: page.map((t) => ({
        api_key_id: t.apiKeyId,
        request_id: t.requestId,
        task_id: t.id,
        status: t.status,
        model_name: t.request.model,
        region: 'cn-beijing',
        gmt_create: formatBeijing(t.submitAt),
        start_time: t.scheduledAt === undefined ? undefined : formatBeijing(t.scheduledAt),
        end_time: t.endAt === undefined ? undefined : formatBeijing(t.endAt),
      })),
      total: all.length,
      page_no: pageNo,
      page_size: pageSize,
    });
  } catch (err) {
    const e = asApiError(err);
    deps.records.lists.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, status: e.status, ...noted });
    return apiErrorReply(e, requestId);
  }
}

/** `GET /uploads?action=getPolicy&model=…` (temporary upload, step 1). */
export function getUploadPolicy(deps: ApiDeps, req: IncomingMessage, url: URL): Reply {
  const requestId = newRequestId();
  let apiKeyId: string | undefined;
  const noted: Injected = {};
  const model = url.searchParams.get('model') ?? '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    throwInjected(deps, 'getPolicy', noted);
    if (url.searchParams.get('action') !== 'getPolicy') throw new ApiError(400, 'InvalidParameter', 'Value error, action must be getPolicy');
    if (!model) throw new ApiError(400, 'InvalidParameter', 'Field required: model');
    if (!deps.limiter.tryTake(`${apiKeyId}/${model}`, 'getPolicy', deps.limits.uploadPoliciesPerSecond)) throw ApiError.of(E.rateQuota);
    return jsonReply(200, { request_id: requestId, data: deps.uploads.getPolicy(apiKeyId, model) });
  } catch (err) {
    const e = asApiError(err);
    deps.records.uploads.push({ at: deps.clock.now(), realAt: Date.now(), kind: 'getPolicy', apiKeyId, model, status: e.status, code: e.code, ...noted });
    return apiErrorReply(e, requestId);
  }
}

type TaskStatusName = Task['status'];

interface TaskBody {
  request_id: string;
  output: Record<string, unknown> & { task_id: string; task_status: TaskStatusName };
  usage?: { image_count: number };
}

/** The query answer, shaped like the service's (dashscope.md §2 examples). */
export function taskView(task: Task | undefined, taskId: string, requestId: string): TaskBody {
  if (!task) return { request_id: requestId, output: { task_id: taskId, task_status: 'UNKNOWN' } };
  const n = task.request.n;
  const output: TaskBody['output'] = { task_id: task.id, task_status: task.status, submit_time: formatBeijing(task.submitAt) };
  if (task.scheduledAt !== undefined) output.scheduled_time = formatBeijing(task.scheduledAt);
  if (task.endAt !== undefined) output.end_time = formatBeijing(task.endAt);
  switch (task.status) {
    case 'SUCCEEDED':
      output.results = task.results;
      output.task_metrics = { TOTAL: n, SUCCEEDED: task.imageCount, FAILED: n - task.imageCount };
      return { request_id: requestId, output, usage: { image_count: task.imageCount } };
    case 'FAILED':
      output.code = task.code;
      output.message = task.message;
      output.task_metrics = { TOTAL: n, SUCCEEDED: 0, FAILED: n };
      return { request_id: requestId, output };
    default:
      output.task_metrics = { TOTAL: n, SUCCEEDED: 0, FAILED: 0 };
      return { request_id: requestId, output };
  }
}

/** Which injected fault shaped an answer, for its record. */
interface Injected {
  fault?: string;
}

/** Throws the next queued failCreates/failRequests error for `kind`, noting the fault in `record`. */
function throwInjected(deps: ApiDeps, kind: ApiRequestKind, record: Injected): void {
  const injected = deps.faults.takeRequestFailure(kind);
  if (!injected) return;
  record.fault = injected.fault;
  throw ApiError.of(injected.error);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text: string;
  try {
    text = (await readBody(req, MAX_BODY)).toString('utf8');
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new ApiError(400, 'InvalidParameter', 'The request body is too large.');
    throw err;
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, 'InternalError', 'An internal error has occured, please try again later or contact service support.');
}
