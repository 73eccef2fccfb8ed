/**
 * Shared by the dashscope-*.test.ts files: test sketches, a tiny loopback server to serve them
 * (what DashScope fetches), and a plain-fetch client for the simulator's API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { DashScopeSimulator } from '../../lib/local/dashscope/index.js';

export const MODEL = 'wanx-sketch-to-image-lite';
export const CREATE_PATH = '/services/aigc/image2image/image-synthesis';

/** A 512×512 white PNG with a thick black cross: strokes along both diagonals. */
export async function crossSketch(side = 512, format: 'png' | 'jpeg' | 'gif' | 'webp' = 'png'): Promise<Buffer> {
  const w = Math.round(side * 0.08);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">` +
    `<rect width="${side}" height="${side}" fill="white"/>` +
    `<path d="M${side * 0.15} ${side * 0.15} L${side * 0.85} ${side * 0.85} M${side * 0.85} ${side * 0.15} L${side * 0.15} ${side * 0.85}" stroke="black" stroke-width="${w}"/>` +
    '</svg>';
  const img = sharp(Buffer.from(svg));
  return (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg() : format === 'gif' ? img.gif() : img.webp()).toBuffer();
}

export interface SketchServer {
  origin: string;
  url(path: string): string;
  put(path: string, body: Buffer, status?: number): void;
  hits: string[];
  close(): Promise<void>;
}

/** Serves registered buffers by path (status 404 otherwise); `put(path, body, 403)` fakes a refusal. */
export async function startSketchServer(): Promise<SketchServer> {
  const files = new Map<string, { body: Buffer; status: number }>();
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.push(req.url ?? '');
    const f = files.get(path);
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(f.status, { 'content-type': 'application/octet-stream', 'content-length': f.body.length });
    res.end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    put: (path, body, status = 200) => void files.set(path, { body, status }),
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A minimal client, as the pipeline's adapter would speak to the service. */
export function client(sim: DashScopeSimulator, apiKey = sim.apiKey) {
  const auth = { authorization: `Bearer ${apiKey}` };
  const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${sim.baseUrl}${path}`, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, headers: res.headers };
  };
  return {
    create: (body: unknown, headers: Record<string, string> = {}) =>
      call(CREATE_PATH, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'x-dashscope-async': 'enable', ...headers },
        body: JSON.stringify(body),
      }),
    query: (taskId: string) => call(`/tasks/${taskId}`, { headers: auth }),
    cancel: (taskId: string) => call(`/tasks/${taskId}/cancel`, { method: 'POST', headers: auth }),
    list: (params: Record<string, string> = {}) => call(`/tasks?${new URLSearchParams(params).toString()}`, { headers: auth }),
    raw: call,
    /** Polls until the task leaves PENDING/RUNNING (or `timeoutMs` real passes). */
    async wait(taskId: string, timeoutMs = 5000): Promise<Answer> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const a = await call(`/tasks/${taskId}`, { headers: auth });
        const s = a.body?.output?.task_status;
        if (a.status === 429 && Date.now() <= until) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        if (a.status !== 200 || !['PENDING', 'RUNNING'].includes(s) || Date.now() > until) return a;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/**
 * timeScale for a clock that only moves by advance(): state assertions then never race the
 * scheduler, however loaded the machine is.
 */
export const FROZEN = 1e6;

/** Drives a frozen simulator until the task leaves PENDING/RUNNING: finish fetches, advance 10 s, repeat. */
export async function finish(sim: DashScopeSimulator, api: ReturnType<typeof client>, taskId: string, stepMs = 10_000): Promise<Answer> {
  for (let i = 0; i < 100; i++) {
    await sim.flush();
    const a = await api.query(taskId);
    if (a.status !== 200 || !['PENDING', 'RUNNING'].includes(a.body?.output?.task_status)) return a;
    sim.advance(stepMs);
  }
  throw new Error(`task ${taskId} did not finish`);
}

export function body(sketchUrl: string, parameters: Record<string, unknown> = { n: 1, style: '<watercolor>' }, prompt = 'a towering tree') {
  return { model: MODEL, input: { prompt, sketch_image_url: sketchUrl }, parameters };
}

export const BEIJING_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/;
