/**
 * The DashScope HTTP API under /api/v1: create, query, cancel, and the upload policy (list in
 * list.ts). Order of checks on create, as a gateway would: key (401) → async header (403) →
 * account refusal → injected failure → path (text2image switch) → rate limit (429) → model and
 * body (400). The other routes: key → account → injected failure → rate limit → the work.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { redactDeep } from '../../redact.js';
import { asApiError, checkAccount, readJson, throwInjected, type ApiDeps, type Injected } from './api-common.js';
import { formatBeijing } from './clock.js';
import { ApiError, E, type ApiErrorSpec } from './errors.js';
import { apiErrorReply, header, jsonReply, newRequestId, type Reply } from './http.js';
import { specFor } from './models/index.js';
import { sketchUrlParts, type CreateRecord } from './records.js';
import type { Task } from './tasks.js';

export type { ApiDeps } from './api-common.js';
export { listTasks } from './list.js';

/** What the text2image path answers for this image2image model, per switch (undefined = accept). */
const TEXT2IMAGE: Record<string, ApiErrorSpec | undefined> = { 'url-error': E.urlError, 'model-not-exist': E.modelNotExist, 'not-found': E.notFound, accept: undefined };

export async function createTask(deps: ApiDeps, req: IncomingMessage, path: 'image2image' | 'text2image' = 'image2image'): Promise<Reply> {
  const requestId = newRequestId();
  const at = deps.clock.now();
  const record: CreateRecord = { at, realAt: Date.now(), apiKeyId: '', requestId, status: 0, body: undefined, path };
  let raw: unknown;
  try {
    record.apiKeyId = deps.keys.authenticate(req);
    raw = await readJson(req);
    record.body = redactDeep(raw);
    const url = primaryImageOf(raw);
    if (url !== undefined) Object.assign(record, sketchUrlParts(url));
    if (header(req, 'x-dashscope-async')?.toLowerCase() !== 'enable') throw ApiError.of(E.syncNotSupported);
    checkAccount(deps, record.apiKeyId, 'create');
    throwInjected(deps, 'create', record);
    const wrongPath = path === 'text2image' ? TEXT2IMAGE[deps.switches.get().text2image] : undefined;
    if (wrongPath) throw ApiError.of(wrongPath);
    if (raw === undefined) throw ApiError.of(E.badJson);
    const model = (raw as { model?: unknown } | null)?.model;
    if (typeof model === 'string' && !deps.models.includes(model)) throw ApiError.of(E.modelNotExist);
    const name = typeof model === 'string' ? model : '';
    // Limits are per account and model.
    if (!deps.limiter.tryTake(`${record.apiKeyId}/${name}`, 'create', deps.limits.submitsPerSecond(name))) throw ApiError.of(E.rateQuota);
    const request = specFor(name).parse(raw);
    if (request.imageUrls.some((u) => /^oss:\/\//i.test(u)) && header(req, 'x-dashscope-ossresourceresolve')?.toLowerCase() !== 'enable') {
      throw ApiError.of(E.ossNotResolved);
    }
    // A client that gave up before the request was handled (its timeout, on a machine too busy to
    // serve it sooner) makes no task: what we assume of DashScope (README "What we assume": it never
    // acts on a create older than our client's timeout). A task made and its answer lost is the
    // injected `reset-after` / `timeout-after` / gateway faults, not this.
    if (req.socket.destroyed) {
      record.fault = 'client-gone';
      throw new ApiError(499, 'ClientClosedRequest', 'the client closed the connection before the request was handled');
    }
    const early = deps.faults.takeEarly();
    const task = deps.engine.create(record.apiKeyId, randomUUID(), requestId, request, deps.nextDuration(request.model));
    if (early) {
      // The task's completion event reaches its target before this reply does.
      record.fault = 'event:early';
      await deps.eventSent(task.id);
    }
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

/** The image a create is about, for its record: sketch_image_url, base_image_url, or the last of images. */
function primaryImageOf(raw: unknown): string | undefined {
  const input = (raw as { input?: Record<string, unknown> } | null)?.input;
  if (!input || typeof input !== 'object') return undefined;
  const images = Array.isArray(input.images) ? input.images : [];
  const url = input.sketch_image_url ?? input.base_image_url ?? images.at(-1);
  return typeof url === 'string' ? url : undefined;
}

export async function queryTask(deps: ApiDeps, req: IncomingMessage, taskId: string): Promise<Reply> {
  const requestId = newRequestId();
  const realAt = Date.now();
  const noted: Injected = {};
  let apiKeyId = '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    checkAccount(deps, apiKeyId, 'query');
    throwInjected(deps, 'query', noted);
    if (!deps.limiter.tryTake(apiKeyId, 'query', deps.limits.queriesPerSecond)) throw ApiError.of(E.rateQuota);
    const task = deps.engine.lookup(apiKeyId, taskId);
    if (task) await deps.engine.settle(task);
    let body: TaskBody = taskView(task, taskId, requestId);
    const odd = deps.faults.takeQueryStatus(taskId);
    if (odd) {
      noted.fault = 'queryStatus';
      // A literal UNKNOWN looks like the answer for a task the service does not have.
      if (odd.status === 'UNKNOWN') body = taskView(undefined, taskId, requestId);
      else if (odd.status === null) delete (body.output as Partial<TaskBody['output']>).task_status;
      else body.output.task_status = odd.status;
    }
    deps.records.queries.push({ at: deps.clock.now(), realAt, apiKeyId, requestId, taskId, status: 200, taskStatus: body.output.task_status, ...noted });
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
    checkAccount(deps, apiKeyId, 'cancel');
    throwInjected(deps, 'cancel', noted);
    if (!deps.limiter.tryTake(apiKeyId, 'query', deps.limits.queriesPerSecond)) throw ApiError.of(E.rateQuota);
    const sw = deps.switches.get();
    const task = deps.engine.lookup(apiKeyId, taskId);
    if (task) await deps.engine.settle(task);
    if (!task) {
      // Unknown, expired, another account's: switched (cancelUnknown).
      if (sw.cancelUnknown === 'not-found') throw ApiError.of(E.taskNotFound);
      if (sw.cancelUnknown === 'unsupported-operation') throw ApiError.of(E.cancelNotPending);
      reply = jsonReply(200, { request_id: requestId, output: { task_id: taskId, task_status: 'UNKNOWN' } });
    } else if (deps.engine.cancel(task)) {
      reply = jsonReply(200, sw.cancelReply === 'request-id' ? { request_id: requestId } : { request_id: requestId, output: { task_id: task.id, task_status: 'CANCELED' } });
    } else {
      // No longer PENDING: switched (cancelNotPending); the task goes on either way.
      if (sw.cancelNotPending === 'unsupported-operation') throw ApiError.of(E.cancelNotPending);
      if (sw.cancelNotPending === 'invalid-parameter') throw ApiError.of(E.cancelInvalid);
      reply = jsonReply(200, { request_id: requestId });
    }
  } catch (err) {
    const e = asApiError(err);
    code = e.code;
    reply = apiErrorReply(e, requestId);
  }
  deps.records.cancels.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, requestId, taskId, status: reply.status, code, ...noted });
  return reply;
}

/** `GET /uploads?action=getPolicy&model=…` (temporary upload, step 1). */
export function getUploadPolicy(deps: ApiDeps, req: IncomingMessage, url: URL): Reply {
  const requestId = newRequestId();
  let apiKeyId: string | undefined;
  const noted: Injected = {};
  const model = url.searchParams.get('model') ?? '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    checkAccount(deps, apiKeyId, 'getPolicy');
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
  /** `task_status` is a string, not only the documented set: queryStatus faults put others there. */
  output: Record<string, unknown> & { task_id: string; task_status: TaskStatusName | (string & {}) };
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
