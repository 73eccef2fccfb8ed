/**
 * ImageModel over DashScope's HTTP API with undici: one keep-alive agent per instance, a timeout
 * on every request, every reply validated with zod, and failures mapped into ModelError /
 * TransportError for `dispositionOf` (errors.ts) to classify.
 */
import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import * as z from 'zod';
import { beijingWithOffset } from '../contract/dashscope-time.js';
import { MODEL } from '../contract/request.js';
import { ModelError, ResultDownloadError, TransportError } from '../errors.js';
import { redact } from '../redact.js';
import type { CreateTaskInput, ImageModel, TaskStatus, TaskSummary, TaskView } from '../core/ports.js';

export interface DashScopeSettings {
  apiKey: string;
  baseUrl: string;
  workspace?: string;
  /** Per request; a create that times out is "outcome unknown" (reconciled, never blindly resent). */
  timeoutMs?: number;
}

const CreateReply = z.object({
  output: z.object({ task_id: z.string().min(1), task_status: z.string() }),
  request_id: z.string().optional(),
});

const ErrorReply = z.looseObject({ code: z.string().optional(), message: z.string().optional(), request_id: z.string().optional() });

const TASK_STATUSES = ['PENDING', 'RUNNING', 'SUSPENDED', 'SUCCEEDED', 'FAILED', 'CANCELED', 'UNKNOWN'] as const;

const TaskReply = z.looseObject({
  request_id: z.string().optional(),
  output: z.looseObject({
    task_id: z.string().optional(),
    task_status: z.enum(TASK_STATUSES).catch('UNKNOWN'),
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

/** The list reply's fields are not confirmed by any public source (dashscope.md §2): read leniently. */
const ListReply = z.looseObject({
  data: z
    .array(
      z.looseObject({
        task_id: z.string(),
        status: z.string().optional(),
        task_status: z.string().optional(),
        gmt_create: z.union([z.string(), z.number()]).optional(),
        submit_time: z.string().optional(),
      }),
    )
    .default([]),
  total: z.number().optional(),
});

/** `20230420000000` in Beijing time, the list API's time format. */
export function listTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

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

  async function listPages(status: string, from: number, to: number): Promise<TaskSummary[]> {
    const out: TaskSummary[] = [];
    for (let page = 1; page <= 10; page++) {
      const query = new URLSearchParams({ start_time: listTime(from), end_time: listTime(to), model_name: MODEL, status, page_no: String(page), page_size: '100' });
      const json = await call('GET', `/tasks?${query.toString()}`, 'list tasks');
      const parsed = ListReply.safeParse(json);
      if (!parsed.success) throw new ModelError('InvalidReply', 'list tasks: unexpected reply', 502);
      for (const t of parsed.data.data) {
        const taskStatus = t.task_status ?? t.status ?? status;
        if (taskStatus === status) out.push({ taskId: t.task_id, status: taskStatus, createdAt: beijingToMs(t.gmt_create ?? t.submit_time) });
      }
      if (parsed.data.data.length < 100) break;
    }
    return out;
  }

  return {
    async createTask(input: CreateTaskInput, options: { signal?: AbortSignal } = {}) {
      const body = {
        model: MODEL,
        input: { prompt: input.prompt, sketch_image_url: input.sketchUrl },
        parameters: input.parameters,
      };
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
        status: o.task_status as TaskStatus,
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
      const out: TaskSummary[] = [];
      // A wide window: the filter that matters is the status, and clocks need not agree.
      const now = Date.now();
      for (const status of ['PENDING', 'RUNNING']) {
        out.push(...(await listPages(status, now - 24 * 3600_000, now + 24 * 3600_000)));
      }
      return out;
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
