/**
 * ImageModel over DashScope's HTTP API with undici: one keep-alive agent per instance, a timeout
 * on every request, every reply validated with zod, and failures mapped into ModelError /
 * TransportError for `dispositionOf` (errors.ts) to classify.
 */
import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import * as z from 'zod';
import { beijingWithOffset } from '../contract/dashscope-time.js';
import { modelSpec } from '../models/index.js';
import { ModelError, ResultDownloadError, TransportError } from '../errors.js';
import { redact } from '../redact.js';
import type { CreateTaskInput, ImageModel, TaskSummary, TaskView } from '../core/ports.js';

export interface DashScopeSettings {
  apiKey: string;
  baseUrl: string;
  workspace?: string;
  /** Per request; a create that times out is "outcome unknown" (reconciled, never blindly resent). */
  timeoutMs?: number;
}

const CreateReply = z.object({
  output: z.looseObject({ task_id: z.string().min(1), task_status: z.string().optional() }),
  request_id: z.string().optional(),
});

const ErrorReply = z.looseObject({ code: z.string().optional(), message: z.string().optional(), request_id: z.string().optional() });

const TaskReply = z.looseObject({
  request_id: z.string().optional(),
  output: z.looseObject({
    task_id: z.string().optional(),
    // Kept as written: a value outside the documented set is not "lost" (lifecycle/replies.ts).
    task_status: z.string().optional(),
    results: z
      .array(z.union([z.looseObject({ url: z.string().min(1) }), z.looseObject({ code: z.string(), message: z.string().default('') })]))
      .optional(),
    code: z.string().optional(),
    message: z.string().optional(),
    submit_time: z.string().optional(),
    scheduled_time: z.string().optional(),
    end_time: z.string().optional(),
  }),
  usage: z.looseObject({ image_count: z.number().int().nonnegative().optional() }).optional(),
});

/**
 * The list reply (dashscope.md §A): `{data:[{task_id, status, model_name, gmt_create (epoch ms)…}],
 * total, total_page, page_no, page_size}`. What no page confirms (page size cap, paging base,
 * `total`, order, time format) is read leniently, and paging does not depend on it.
 */
const ListReply = z.looseObject({
  data: z
    .array(
      z.looseObject({
        task_id: z.string(),
        status: z.string().optional(),
        task_status: z.string().optional(),
        model_name: z.string().optional(),
        gmt_create: z.union([z.string(), z.number()]).optional(),
        submit_time: z.string().optional(),
      }),
    )
    .nullish()
    .transform((v) => v ?? []),
  total: z.number().optional(),
  total_page: z.number().optional(),
});

/** The documented default page size: surely accepted whatever the (unpublished) maximum is. */
const LIST_PAGE_SIZE = 10;
/** A bound on the pages read per status (far more live tasks than one account can hold). */
const LIST_MAX_PAGES = 50;

const optionalMs = (ms: number | undefined) => (ms === undefined ? {} : { createdAt: ms });

function beijingToMs(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const ms = Date.parse(beijingWithOffset(value) ?? value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Did any byte of the request leave? Only a refused or failed connect says no for sure. */
function wasSent(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return !(code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || err instanceof undiciErrors.ConnectTimeoutError);
}

export function createImageModel(settings: DashScopeSettings, agent: Dispatcher = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 5_000 } })): ImageModel {
  const base = settings.baseUrl.replace(/\/+$/, '');
  const timeout = settings.timeoutMs ?? 15_000;
  const authHeaders = (): Record<string, string> => ({
    authorization: `Bearer ${settings.apiKey}`,
    ...(settings.workspace ? { 'x-dashscope-workspace': settings.workspace } : {}),
  });

  async function call(method: 'GET' | 'POST', path: string, what: string, body?: unknown, extra: Record<string, string> = {}, signal?: AbortSignal) {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${base}${path}`, {
        method,
        dispatcher: agent,
        ...(signal ? { signal } : {}),
        headers: { ...authHeaders(), accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extra },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw new TransportError('dashscope', redact(`${what}: ${(err as Error)?.message ?? String(err)}`), wasSent(err), { cause: err });
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw new TransportError('dashscope', redact(`${what}: reading the reply failed: ${(err as Error)?.message}`), true, { cause: err });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (res.statusCode !== 200) {
      const parsed = ErrorReply.safeParse(json);
      const code = parsed.success && parsed.data.code ? parsed.data.code : `HTTP${res.statusCode}`;
      const message = parsed.success && parsed.data.message ? parsed.data.message : text.slice(0, 200);
      throw new ModelError(code, redact(`${what}: ${message}`), res.statusCode, parsed.success ? parsed.data.request_id : undefined);
    }
    if (json === undefined) throw new ModelError('InvalidReply', `${what}: the reply is not JSON`, 502);
    return json;
  }

  async function listPage(status: string, pageNo: number) {
    // No start_time/end_time: the documented default window is the last 24 h, and a window we
    // chose could exceed the documented 24 h limit or depend on clocks agreeing.
    const query = new URLSearchParams({ status, page_no: String(pageNo), page_size: String(LIST_PAGE_SIZE) });
    const json = await call('GET', `/tasks?${query.toString()}`, 'list tasks');
    const parsed = ListReply.safeParse(json);
    if (!parsed.success) throw new ModelError('InvalidReply', 'list tasks: unexpected reply', 502);
    return parsed.data;
  }

  /**
   * Every task with `status`, deduplicated by id. Paging is documented to start at 1; should it
   * start at 0 instead, page 0 would be missed, so it is asked for too whenever the pages read
   * do not account for `total` (or `total` is absent); a service paging from 1 refuses page 0
   * or repeats page 1, and either is harmless here.
   */
  async function listAll(status: string): Promise<TaskSummary[]> {
    const found = new Map<string, TaskSummary>();
    const add = (data: z.infer<typeof ListReply>['data']) => {
      for (const t of data) {
        const taskStatus = t.task_status ?? t.status ?? status;
        if (taskStatus === status) found.set(t.task_id, { taskId: t.task_id, status: taskStatus, ...(t.model_name ? { model: t.model_name } : {}), ...optionalMs(beijingToMs(t.gmt_create ?? t.submit_time)) });
      }
    };
    let total: number | undefined;
    for (let page = 1; page <= LIST_MAX_PAGES; page++) {
      const reply = await listPage(status, page);
      total ??= reply.total;
      const before = found.size;
      add(reply.data);
      // A short page proves nothing (the service may cap the size below what we asked): stop on
      // an empty page, on the totals, or on a page that repeats what we have.
      if (reply.data.length === 0 || found.size === before) break;
      if ((total !== undefined && found.size >= total) || (reply.total_page !== undefined && page >= reply.total_page)) break;
    }
    if (total === undefined || found.size < total) {
      try {
        add((await listPage(status, 0)).data);
      } catch (err) {
        if (!(err instanceof ModelError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403 && err.status !== 429)) throw err;
      }
    }
    return [...found.values()];
  }

  return {
    async createTask(input: CreateTaskInput, options: { signal?: AbortSignal } = {}) {
      // Each model's own body (lib/models): the sketch's URL goes where that model reads it.
      const body = modelSpec(input.model).body({ prompt: input.prompt, imageUrl: input.sketchUrl, parameters: input.parameters });
      const json = await call('POST', '/services/aigc/image2image/image-synthesis', 'create task', body, {
        'x-dashscope-async': 'enable',
        ...(input.ossResourceResolve ? { 'x-dashscope-ossresourceresolve': 'enable' } : {}),
      }, options.signal);
      const parsed = CreateReply.safeParse(json);
      // A 200 without a task id means we cannot know what was created: treat it like a lost reply.
      if (!parsed.success) throw new TransportError('dashscope', 'create task: the reply has no task id', true);
      return { taskId: parsed.data.output.task_id };
    },

    async getTask(taskId: string): Promise<TaskView> {
      const json = await call('GET', `/tasks/${encodeURIComponent(taskId)}`, `query task ${taskId}`);
      const parsed = TaskReply.safeParse(json);
      if (!parsed.success) throw new ModelError('InvalidReply', `query task ${taskId}: unexpected reply (${parsed.error.issues[0]?.message})`, 502);
      const o = parsed.data.output;
      return {
        taskId: o.task_id ?? taskId,
        status: o.task_status ?? '',
        results: (o.results ?? []).map((r) => (typeof r.url === 'string' ? { url: r.url } : { code: String(r.code), message: String(r.message ?? '') })),
        imageCount: parsed.data.usage?.image_count ?? 0,
        ...(o.code ? { code: o.code } : {}),
        ...(o.message ? { message: o.message } : {}),
        ...(o.submit_time ? { submitTime: o.submit_time } : {}),
        ...(o.scheduled_time ? { scheduledTime: o.scheduled_time } : {}),
        ...(o.end_time ? { endTime: o.end_time } : {}),
      };
    },

    async cancelTask(taskId: string): Promise<boolean> {
      try {
        await call('POST', `/tasks/${encodeURIComponent(taskId)}/cancel`, `cancel task ${taskId}`);
        return true;
      } catch (err) {
        // Only PENDING tasks can be canceled; any 4xx means "not any more".
        if (err instanceof ModelError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) return false;
        throw err;
      }
    },

    async listLiveTasks(): Promise<TaskSummary[]> {
      // Every model's: a listing filtered to one model would be blind to another's orphans.
      return [...(await listAll('PENDING')), ...(await listAll('RUNNING'))];
    },

    async downloadResult(url: string): Promise<{ body: Readable; contentLength?: number }> {
      const shown = redact(url.split('?')[0] ?? url);
      let res: Dispatcher.ResponseData;
      try {
        // Result URLs are presigned by DashScope: no Authorization header.
        res = await request(url, { method: 'GET', dispatcher: agent, headersTimeout: timeout, bodyTimeout: 60_000 });
      } catch (err) {
        throw new ResultDownloadError(redact(`download ${shown}: ${(err as Error)?.message}`), undefined, { cause: err });
      }
      if (res.statusCode !== 200) {
        const text = await res.body.text().catch(() => '');
        const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
        throw new ResultDownloadError(`download ${shown}: HTTP ${res.statusCode}${code ? ` ${code}` : ''}`, res.statusCode);
      }
      const length = Number(res.headers['content-length']);
      return { body: res.body as unknown as Readable, ...(Number.isFinite(length) && length > 0 ? { contentLength: length } : {}) };
    },
  };
}
