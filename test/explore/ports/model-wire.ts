/**
 * The real adapter (lib/adapters/dashscope.ts) over the fake DashScope, with no socket: an undici
 * Dispatcher that hands each request to the scheduler as an op and plays the fake's answer back
 * through undici's handler callbacks. So the adapter's own parsing decides what an HTML 504, an
 * odd `task_status` or a reset means, and undici's own signal handling aborts a create.
 */
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { createImageModel } from '../../../lib/adapters/dashscope.js';
import type { ImageModel } from '../../../lib/core/ports.js';
import { ok, type Actor, type Op, type Scheduler } from '../scheduler.js';
import { RESULT_HOST, type CreateRecord, type FakeDashScope, type Reply } from './dashscope.js';
import { recordOf } from './model-direct.js';

interface LegacyHandler {
  onConnect(abort: (reason?: unknown) => void): void;
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[]): void;
  onError(err: unknown): void;
}

interface DispatchOptions {
  origin?: string | URL;
  path: string;
  method: string;
  body?: unknown;
}

function route(fake: FakeDashScope, actor: Actor, url: URL, method: string, body: unknown, sentAt: number): { name: string; detail: string; run: () => Reply } {
  if (url.host === RESULT_HOST) return { name: 'downloadResult', detail: url.pathname, run: () => fake.download(actor, url.toString()) };
  const path = url.pathname.replace(/^\/api\/v1/, '');
  if (method === 'POST' && path === '/services/aigc/image2image/image-synthesis') {
    const parsed = JSON.parse(String(body)) as Parameters<FakeDashScope['create']>[1];
    return { name: 'createTask', detail: parsed.input?.prompt ?? '', run: () => fake.create(actor, parsed, sentAt) };
  }
  const cancel = /^\/tasks\/([^/]+)\/cancel$/.exec(path);
  if (method === 'POST' && cancel) return { name: 'cancelTask', detail: decodeURIComponent(cancel[1]!), run: () => fake.cancel(actor, decodeURIComponent(cancel[1]!)) };
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (method === 'GET' && task) return { name: 'getTask', detail: decodeURIComponent(task[1]!), run: () => fake.query(actor, decodeURIComponent(task[1]!)) };
  if (method === 'GET' && path === '/tasks') {
    const status = url.searchParams.get('status') ?? '';
    return { name: 'listTasks', detail: status, run: () => fake.list(actor, status) };
  }
  return { name: 'unknown', detail: `${method} ${path}`, run: () => ({ status: 404, json: { code: 'NotFound', message: 'Not Found.' } }) };
}

function play(handler: LegacyHandler, reply: Reply): void {
  if ('drop' in reply) {
    handler.onError(reply.drop === 'reset' ? new undiciErrors.SocketError('other side closed') : new undiciErrors.HeadersTimeoutError());
    return;
  }
  const [type, bytes] =
    'json' in reply ? ['application/json', Buffer.from(JSON.stringify(reply.json))] : 'html' in reply ? ['text/html', Buffer.from(reply.html)] : ['image/png', reply.bytes];
  handler.onHeaders(reply.status, ['content-type', type, 'content-length', String(bytes.length)], () => {}, reply.status === 200 ? 'OK' : 'Error');
  handler.onData(bytes);
  handler.onComplete([]);
}

export function wireModel(sched: Scheduler, actor: Actor, fake: FakeDashScope, timeoutMs: number): ImageModel {
  const dispatcher = {
    dispatch(opts: DispatchOptions, handler: LegacyHandler): boolean {
      const url = new URL(opts.path, opts.origin);
      const { name, detail, run } = route(fake, actor, url, opts.method, opts.body, sched.now);
      let done = false;
      let op: Op | undefined;
      let record: CreateRecord | undefined;
      handler.onConnect((reason) => {
        // undici calls this when the request's signal aborts: the reply, if any, is never seen.
        if (done) return;
        done = true;
        if (record) record.undelivered = true;
        if (op) sched.cancel(op, ok());
        handler.onError(reason ?? new undiciErrors.RequestAbortedError());
      });
      if (done) return true;
      op = sched.register(actor, {
        port: 'model',
        name,
        detail,
        exec: () => {
          const sent = recordOf(fake, run);
          record = sent.record;
          return ok(sent.reply);
        },
        deliver: (o) => {
          if (done) return;
          done = true;
          if (o.ok) play(handler, o.value as Reply);
          else handler.onError(o.error);
        },
      });
      return true;
    },
  };
  return createImageModel({ apiKey: 'sk-explorer', baseUrl: 'https://dashscope.aliyuncs.com/api/v1', timeoutMs }, dispatcher as unknown as Dispatcher);
}
