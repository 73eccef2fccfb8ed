/**
 * Fetching and checking the sketch when a task starts, as the service's "data inspection" does:
 * a plain GET of `sketch_image_url` (in tests, a presigned URL of the OSS emulator), or a lookup of
 * a temporary upload for `oss://`. Failures become the service's task-level error codes.
 */
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { badFormat, TASK } from './errors.js';
import type { InputLimits } from './models/index.js';

interface Checked {
  ok: true;
  bytes: Buffer;
  format: string;
  width: number;
  height: number;
}

/** The image results are drawn from, and the sizes of every input (in request order). */
export type SketchOutcome = (Checked & { inputs: Array<{ width: number; height: number }> }) | { ok: false; code: string; message: string };

export type Failure = Extract<SketchOutcome, { ok: false }>;

/** Temporary uploads (`oss://…`), answered by the uploads module. */
export interface OssObjectResolver {
  resolve(key: string, apiKeyId: string, model: string): { ok: true; bytes: Buffer } | Failure;
}

export interface SketchFetcherOptions {
  /** Real ms before a download counts as timed out. */
  timeoutMs: number;
  /** Largest download read at all (the models' own limits are checked after). */
  maxBytes: number;
}
// "URL must not contain Chinese characters" (API reference).
const CJK = /[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/;

export class SketchFetcher {
  // Own connection pool, closed with the simulator, so no socket outlives it.
  private readonly agent = new Agent({ keepAliveTimeout: 1000, connections: 8 });

  constructor(
    private readonly options: SketchFetcherOptions,
    private readonly oss: OssObjectResolver,
  ) {}

  /** Fetches and checks every input image against the model's limits; the first failure wins. */
  async fetchAll(urls: string[], primary: string, apiKeyId: string, model: string, limits: InputLimits): Promise<SketchOutcome> {
    const checked = await Promise.all(urls.map((u) => this.fetch(u, apiKeyId, model, limits)));
    const failed = checked.find((c) => !c.ok);
    if (failed) return failed as Failure;
    const all = checked as Checked[];
    const main = all[urls.indexOf(primary)] ?? all.at(-1)!;
    return { ...main, inputs: all.map((c) => ({ width: c.width, height: c.height })) };
  }

  async fetch(url: string, apiKeyId: string, model: string, limits: InputLimits): Promise<Checked | Failure> {
    let bytes: Buffer;
    if (/^oss:\/\//i.test(url)) {
      const found = this.oss.resolve(url.slice('oss://'.length), apiKeyId, model);
      if (!found.ok) return found;
      bytes = found.bytes;
    } else {
      const got = await this.download(url);
      if (!got.ok) return got;
      bytes = got.bytes;
    }
    return this.inspect(bytes, url, limits);
  }

  private async download(url: string): Promise<{ ok: true; bytes: Buffer } | Failure> {
    if (CJK.test(decodeURIComponentSafe(url))) return fail(TASK.invalidUrl);
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
    } catch (err) {
      return fail(isTimeout(err) ? TASK.downloadTimeout : TASK.downloadFailed);
    }
    // dump() discards the rest quietly; destroy() would surface an AbortError nobody listens to.
    const drop = () => void res.body.dump().catch(() => undefined);
    if (res.statusCode === 403) return drop(), fail(TASK.downloadForbidden);
    if (res.statusCode === 404) return drop(), fail(TASK.downloadNotFound);
    if (res.statusCode !== 200) return drop(), fail(TASK.downloadFailed);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.options.maxBytes) return drop(), fail(TASK.size);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.options.maxBytes) return drop(), fail(TASK.size);
        chunks.push(chunk);
      }
    } catch (err) {
      return fail(isTimeout(err) ? TASK.downloadTimeout : TASK.downloadFailed);
    }
    return { ok: true, bytes: Buffer.concat(chunks) };
  }

  private async inspect(bytes: Buffer, url: string, limits: InputLimits): Promise<Checked | Failure> {
    if (bytes.length > limits.maxBytes) return fail(TASK.size);
    const meta = await sharp(bytes)
      .metadata()
      .catch(() => undefined);
    if (!meta) return fail(TASK.invalidUrl);
    if (!meta.format || !limits.formats.has(meta.format)) return fail(badFormat(withoutQuery(url)));
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.height ?? 0;
    const lo = Math.min(width, height);
    const hi = Math.max(width, height);
    const ratio = hi / lo;
    const badRatio = limits.ratioExclusive ? ratio >= limits.maxRatio : ratio > limits.maxRatio;
    if (lo < limits.minSide || hi > limits.maxSide || badRatio) return fail(TASK.resolution);
    try {
      // Decode it all once: a truncated file must fail now, not when a result is downloaded.
      await sharp(bytes, { failOn: 'truncated' }).resize(32, 32).raw().toBuffer();
    } catch {
      return fail(TASK.invalidUrl);
    }
    return { ok: true, bytes, format: meta.format, width, height };
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

function fail(e: { code: string; message: string }): Failure {
  return { ok: false, code: e.code, message: e.message };
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code ?? '';
  return /TIMEOUT/i.test(code);
}

export function withoutQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
