/**
 * One process owns a bucket folder at a time. A running `sketchflow local` serves a small control
 * API on loopback and leaves its address in `DIR/.sketchflow/local.json`, so `sketchflow status |
 * retry | backfill --dir DIR` act through it (same job state, same DashScope) instead of opening
 * the folder a second time. A random token, kept in that file (mode 0600), guards the API.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BackfillReport, PipelineStatus, RetryFailedReport } from '../core/operations.js';
import type { SubmitOutcome } from '../core/submit.js';
import { BodyTooLarge, readBody } from './http.js';
import { STATE_DIR_NAME } from './stack.js';

export const RUN_FILE = 'local.json';

export interface RunInfo {
  pid: number;
  url: string;
  token: string;
  startedAt: string;
  dashscope: 'sim' | 'real';
  /** SKETCH_PREFIX of that run. */
  prefix: string;
}

export interface ControlHandlers {
  status(prefix?: string): Promise<PipelineStatus>;
  retry(key: string): Promise<SubmitOutcome>;
  retryFailed(prefix: string): Promise<RetryFailedReport>;
  backfill(prefix: string): Promise<BackfillReport>;
}

export interface ControlServer {
  info: RunInfo;
  close(): Promise<void>;
}

const runFile = (dir: string) => path.join(dir, STATE_DIR_NAME, RUN_FILE);

export async function startControlServer(dir: string, handlers: ControlHandlers, about: Pick<RunInfo, 'dashscope' | 'prefix'>): Promise<ControlServer> {
  const token = randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${token}`);
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = Buffer.from(String(req.headers.authorization ?? ''));
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return reply(401, { error: 'bad token' });
    // The API's bodies are a key or a prefix: 1 MB is far more than any needs.
    readBody(req, 1024 * 1024).then((raw) => {
      const url = new URL(req.url ?? '/', 'http://local');
      let body: Record<string, unknown> = {};
      try {
        body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        return reply(400, { error: 'body is not JSON' });
      }
      const run = async (): Promise<unknown> => {
        if (req.method === 'GET' && url.pathname === '/health') return { ok: true, pid: process.pid };
        if (req.method === 'GET' && url.pathname === '/status') return handlers.status(url.searchParams.get('prefix') ?? undefined);
        if (req.method === 'POST' && url.pathname === '/retry' && typeof body.key === 'string') return handlers.retry(body.key);
        if (req.method === 'POST' && url.pathname === '/retry-failed' && typeof body.prefix === 'string') return handlers.retryFailed(body.prefix);
        if (req.method === 'POST' && url.pathname === '/backfill' && typeof body.prefix === 'string') return handlers.backfill(body.prefix);
        throw Object.assign(new Error(`no such operation: ${req.method} ${url.pathname}`), { status: 404 });
      };
      run().then(
        (result) => reply(200, result),
        (err: unknown) => reply((err as { status?: number }).status ?? 500, { error: (err as Error)?.message ?? String(err) }),
      );
    }, (err: unknown) => {
      // Too large: refused. Otherwise the client went away mid-body: no one to answer.
      if (err instanceof BodyTooLarge) reply(413, { error: err.message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const info: RunInfo = {
    pid: process.pid,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    startedAt: new Date().toISOString(),
    ...about,
  };
  fs.mkdirSync(path.dirname(runFile(dir)), { recursive: true });
  fs.writeFileSync(runFile(dir), JSON.stringify(info), { mode: 0o600 });
  return {
    info,
    close: async () => {
      try {
        const current = JSON.parse(fs.readFileSync(runFile(dir), 'utf8')) as RunInfo;
        if (current.pid === process.pid && current.token === token) fs.rmSync(runFile(dir), { force: true });
      } catch {
        // already gone
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ControlClient {
  info: RunInfo;
  status(prefix?: string): Promise<PipelineStatus>;
  retry(key: string): Promise<SubmitOutcome>;
  retryFailed(prefix: string): Promise<RetryFailedReport>;
  backfill(prefix: string): Promise<BackfillReport>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The `sketchflow local` running on `dir`, if there is one that answers. */
export async function findRunning(dir: string): Promise<ControlClient | undefined> {
  let info: RunInfo;
  try {
    info = JSON.parse(fs.readFileSync(runFile(dir), 'utf8')) as RunInfo;
  } catch {
    return undefined;
  }
  if (!info.pid || !info.url || !info.token || !alive(info.pid)) return undefined;
  const call = async <T>(method: 'GET' | 'POST', pathname: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${info.url}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${info.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json()) as T & { error?: string };
    if (res.status !== 200) throw new Error(`the sketchflow local running on this folder (pid ${info.pid}) answered: ${json.error ?? res.status}`);
    return json;
  };
  try {
    await call('GET', '/health');
  } catch {
    return undefined; // a stale file (the process is gone, or the pid was reused)
  }
  return {
    info,
    status: (prefix) => call('GET', `/status${prefix !== undefined ? `?prefix=${encodeURIComponent(prefix)}` : ''}`),
    retry: (key) => call('POST', '/retry', { key }),
    retryFailed: (prefix) => call('POST', '/retry-failed', { prefix }),
    backfill: (prefix) => call('POST', '/backfill', { prefix }),
  };
}
