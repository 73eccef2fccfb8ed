/**
 * ImageModel straight over the fake DashScope, throwing exactly what lib/adapters/dashscope.ts
 * throws for each answer: `ModelError(code, message, status, requestId)` for a JSON error body,
 * `ModelError('HTTP<status>', '<html…', status)` with no request id for any other body, and
 * `TransportError('dashscope', …, true)` for a dropped connection or an aborted call. Task statuses
 * are passed through raw (cast), odd ones included. Cheaper than model-wire.ts, which runs the
 * adapter itself; a schedule uses one or the other.
 */
import { Readable } from 'node:stream';
import { ModelError, ResultDownloadError, TransportError } from '../../../lib/errors.js';
import { redact } from '../../../lib/redact.js';
import type { CreateTaskInput, ImageModel, TaskStatus, TaskSummary, TaskView } from '../../../lib/core/ports.js';
import { fail, ok, type Actor, type Op, type Outcome, type Scheduler } from '../scheduler.js';
import type { CreateRecord, FakeDashScope, Reply } from './dashscope.js';

function answer(reply: Reply, what: string): Outcome {
  if ('drop' in reply) return fail(new TransportError('dashscope', redact(`${what}: ${reply.drop === 'reset' ? 'other side closed' : 'Headers Timeout Error'}`), true));
  if (reply.status === 200 && 'json' in reply) return ok(reply.json);
  if ('json' in reply) {
    const j = reply.json as { code?: string; message?: string; request_id?: string };
    return fail(new ModelError(j.code ?? `HTTP${reply.status}`, redact(`${what}: ${j.message ?? JSON.stringify(j).slice(0, 200)}`), reply.status, j.request_id));
  }
  const text = 'html' in reply ? reply.html : reply.bytes.toString('latin1');
  return fail(new ModelError(`HTTP${reply.status}`, redact(`${what}: ${text.slice(0, 200)}`), reply.status, undefined));
}

function beijingToMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(`${value.replace(' ', 'T')}+08:00`);
  return Number.isNaN(ms) ? undefined : ms;
}

export function toTaskView(json: Record<string, unknown>, taskId: string): TaskView {
  const o = (json.output ?? {}) as Record<string, unknown>;
  const results = Array.isArray(o.results) ? (o.results as Array<Record<string, unknown>>) : [];
  const usage = json.usage as { image_count?: number } | undefined;
  return {
    taskId: typeof o.task_id === 'string' ? o.task_id : taskId,
    status: o.task_status as TaskStatus,
    results: results.map((r) => (typeof r.url === 'string' ? { url: r.url } : { code: String(r.code), message: String(r.message ?? '') })),
    imageCount: usage?.image_count ?? 0,
    ...(typeof o.code === 'string' ? { code: o.code } : {}),
    ...(typeof o.message === 'string' ? { message: o.message } : {}),
    ...(typeof o.submit_time === 'string' ? { submitTime: o.submit_time } : {}),
    ...(typeof o.scheduled_time === 'string' ? { scheduledTime: o.scheduled_time } : {}),
    ...(typeof o.end_time === 'string' ? { endTime: o.end_time } : {}),
  };
}

/** The create just recorded by the fake during `run`, if any (to mark its reply undelivered). */
export function recordOf(fake: FakeDashScope, run: () => Reply): { reply: Reply; record?: CreateRecord } {
  const before = fake.creates.length;
  const reply = run();
  return { reply, ...(fake.creates.length > before ? { record: fake.creates[fake.creates.length - 1] } : {}) };
}

export function directModel(sched: Scheduler, actor: Actor, fake: FakeDashScope): ImageModel {
  const call = <T>(name: string, detail: string, run: () => Outcome): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      sched.register(actor, { port: 'model', name, detail, exec: run, deliver: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
    });

  return {
    createTask(input: CreateTaskInput, options: { signal?: AbortSignal } = {}) {
      const { signal } = options;
      const body = { model: input.model, input: { prompt: input.prompt, sketch_image_url: input.sketchUrl }, parameters: input.parameters };
      const aborted = () => new TransportError('dashscope', 'create task: This operation was aborted', true);
      const sentAt = sched.now;
      return new Promise<{ taskId: string }>((resolve, reject) => {
        let record: CreateRecord | undefined;
        const op: Op = sched.register(actor, {
          port: 'model',
          name: 'createTask',
          detail: input.prompt,
          exec: () => {
            // The request arrives now: never after the caller gave up on it.
            if (signal?.aborted) return fail(aborted());
            const sent = recordOf(fake, () => fake.create(actor, body, sentAt));
            record = sent.record;
            const o = answer(sent.reply, 'create task');
            if (!o.ok) return o;
            const taskId = ((o.value as { output?: { task_id?: string } }).output?.task_id ?? '') as string;
            return taskId ? ok({ taskId }) : fail(new TransportError('dashscope', 'create task: the reply has no task id', true));
          },
          deliver: (o) => {
            signal?.removeEventListener('abort', onAbort);
            return o.ok ? resolve(o.value as { taskId: string }) : reject(o.error);
          },
        });
        const onAbort = () => {
          if (record) record.undelivered = true;
          sched.cancel(op, fail(aborted()));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    getTask(taskId: string) {
      return call<TaskView>('getTask', taskId, () => {
        const o = answer(fake.query(actor, taskId), `query task ${taskId}`);
        return o.ok ? ok(toTaskView(o.value as Record<string, unknown>, taskId)) : o;
      });
    },

    cancelTask(taskId: string) {
      return call<boolean>('cancelTask', taskId, () => {
        const o = answer(fake.cancel(actor, taskId), `cancel task ${taskId}`);
        if (o.ok) return ok(true);
        const e = o.error;
        // The adapter: only PENDING tasks can be canceled; any other 4xx means "not any more".
        if (e instanceof ModelError && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 429) return ok(false);
        return o;
      });
    },

    async listLiveTasks() {
      const out: TaskSummary[] = [];
      // Two calls, as the adapter makes them: a task may move from one list to the other between.
      for (const status of ['PENDING', 'RUNNING']) {
        const page = await call<Record<string, unknown>>('listTasks', status, () => answer(fake.list(actor, status), 'list tasks'));
        for (const t of (page.data ?? []) as Array<Record<string, unknown>>) {
          out.push({ taskId: String(t.task_id), status: String(t.status ?? status), ...(typeof t.model_name === 'string' ? { model: t.model_name } : {}), createdAt: beijingToMs(t.gmt_create) });
        }
      }
      return out;
    },

    downloadResult(url: string) {
      const shown = redact(url.split('?')[0] ?? url);
      return call<{ body: Readable; contentLength?: number }>('downloadResult', shown, () => {
        const reply = fake.download(actor, url);
        if ('drop' in reply) return fail(new ResultDownloadError(`download ${shown}: other side closed`));
        if (reply.status !== 200 || !('bytes' in reply)) {
          const text = 'html' in reply ? reply.html : '';
          const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
          return fail(new ResultDownloadError(`download ${shown}: HTTP ${reply.status}${code ? ` ${code}` : ''}`, reply.status));
        }
        return ok({ body: Readable.from([reply.bytes]), contentLength: reply.bytes.length });
      });
    },
  };
}
