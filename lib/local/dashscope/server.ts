/**
 * The HTTP server and its routing table. Network-level faults (hang, reset, latency) are applied
 * here, around the handlers, so every route gets them the same way: `before` faults stop a request
 * before any work is done, `after` faults lose or delay an answer whose work is already done.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAdmin, type AdminDeps } from './admin.js';
import { cancelTask, createTask, getUploadPolicy, listTasks, queryTask, type ApiDeps } from './api.js';
import { ApiError, E, gatewayBody } from './errors.js';
import { API_REQUEST_KINDS, type ApiRequestKind, type FaultBook, type RequestKind } from './faults.js';
import { BodyTooLarge, readBody } from '../http.js';
import { apiErrorReply, jsonReply, newRequestId, ossErrorReply, writeReply, type Reply } from './http.js';
import type { Records } from './records.js';
import type { ResultImages } from './results.js';
import { UPLOAD_PATH, type TemporaryUploads } from './uploads.js';

interface Route {
  kind: RequestKind | 'admin' | 'other';
  handle(): Promise<Reply> | Reply;
}

export interface ServerDeps {
  api: ApiDeps;
  admin: AdminDeps;
  results: ResultImages;
  uploads: TemporaryUploads;
  faults: FaultBook;
  records: Records;
  now(): number;
}

const CREATE_PATH = /^\/api\/v1\/services\/aigc\/(image2image|text2image)\/image-synthesis\/?$/;
const TASK_PATH = /^\/api\/v1\/tasks\/([^/]+)\/?$/;
const CANCEL_PATH = /^\/api\/v1\/tasks\/([^/]+)\/cancel\/?$/;
const MAX_UPLOAD_BODY = 110 * 1024 * 1024;

function route(deps: ServerDeps, req: IncomingMessage, url: URL): Route {
  const p = url.pathname;
  const m = req.method ?? 'GET';
  let match: RegExpExecArray | null;
  if (p.startsWith('/__admin/')) return { kind: 'admin', handle: () => handleAdmin(deps.admin, req, url) };
  if (m === 'POST' && (match = CREATE_PATH.exec(p))) {
    const task = match[1] as 'image2image' | 'text2image';
    return { kind: 'create', handle: () => createTask(deps.api, req, task) };
  }
  if (m === 'POST' && (match = CANCEL_PATH.exec(p))) return { kind: 'cancel', handle: () => cancelTask(deps.api, req, decodeURIComponent(match![1]!)) };
  if (m === 'GET' && (match = TASK_PATH.exec(p))) return { kind: 'query', handle: () => queryTask(deps.api, req, decodeURIComponent(match![1]!)) };
  if (m === 'GET' && /^\/api\/v1\/tasks\/?$/.test(p)) return { kind: 'list', handle: () => listTasks(deps.api, req, url) };
  if (m === 'GET' && /^\/api\/v1\/uploads\/?$/.test(p)) return { kind: 'getPolicy', handle: () => getUploadPolicy(deps.api, req, url) };
  if ((m === 'GET' || m === 'HEAD') && deps.results.matches(p)) return { kind: 'result', handle: () => deps.results.download(url) };
  if (m === 'POST' && (p === UPLOAD_PATH || p === `${UPLOAD_PATH}/`)) {
    return {
      kind: 'upload',
      handle: async () => {
        try {
          return await deps.uploads.upload(String(req.headers['content-type'] ?? ''), await readBody(req, MAX_UPLOAD_BODY));
        } catch (err) {
          if (err instanceof BodyTooLarge) return ossErrorReply(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', 'dashscope-file-mgr');
          throw err;
        }
      },
    };
  }
  return {
    kind: 'other',
    handle: () => {
      const requestId = newRequestId();
      try {
        if (p.startsWith('/api/v1/')) deps.api.keys.authenticate(req);
        return apiErrorReply(ApiError.of(E.notFound), requestId);
      } catch (err) {
        return apiErrorReply(err as ApiError, requestId);
      }
    },
  };
}

export interface RunningServer {
  origin: string;
  close(): Promise<void>;
}

export async function startServer(deps: ServerDeps, host: string, port: number): Promise<RunningServer> {
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const fault = (kind: RequestKind, when: 'before' | 'after', req: IncomingMessage): boolean => {
    const f = deps.faults.takeNetwork(kind, when);
    if (!f) return false;
    deps.records.networkFaults.push({ at: deps.now(), realAt: Date.now(), kind, fault: f, when, path: new URL(req.url ?? '/', 'http://x').pathname });
    if (f === 'reset') req.socket.destroy();
    // 'hang': leave the response open; close() destroys the socket.
    else req.resume();
    return true;
  };

  /** A gateway's own answer instead of the service's, if one is injected for this request. */
  const gateway = (kind: RequestKind, when: 'before' | 'after', req: IncomingMessage): Reply | undefined => {
    if (!(API_REQUEST_KINDS as readonly string[]).includes(kind)) return undefined;
    const g = deps.faults.takeGateway(kind as ApiRequestKind, when);
    if (!g) return undefined;
    deps.records.networkFaults.push({ at: deps.now(), realAt: Date.now(), kind, fault: 'gateway', status: g.status, when, path: new URL(req.url ?? '/', 'http://x').pathname });
    const body = gatewayBody(g.status, g.body);
    req.resume();
    return { status: g.status, headers: body.contentType ? { 'content-type': body.contentType, server: 'Tengine' } : { server: 'Tengine' }, body: body.text };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const r = route(deps, req, url);
    const kind = r.kind === 'admin' || r.kind === 'other' ? undefined : r.kind;
    if (kind && fault(kind, 'before', req)) return;
    let reply: Reply | undefined = kind && gateway(kind, 'before', req);
    if (!reply) {
      try {
        reply = await r.handle();
      } catch (err) {
        reply = jsonReply(500, { code: 'InternalError', message: `simulator error: ${(err as Error).message}`, request_id: newRequestId() });
      }
      if (kind) {
        const ms = deps.faults.takeDelay(kind);
        if (ms > 0) await delay(ms);
        if (fault(kind, 'after', req)) return;
        reply = gateway(kind, 'after', req) ?? reply;
      }
    }
    if (closing || res.destroyed) return;
    writeReply(res, reply, req.method === 'HEAD');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) writeReply(res, jsonReply(500, { code: 'InternalError', message: String(err) }));
    });
  });
  // Idle keep-alive sockets must not hold close() up.
  server.keepAliveTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    origin: `http://${hostPart}:${addr.port}`,
    close: async () => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Hanging (fault-injected) and keep-alive connections would otherwise keep close() waiting.
      server.closeAllConnections();
      await closed;
    },
  };
}
