/**
 * Result images, served like the service's result bucket: private objects behind V1-style signed
 * URLs (`?Expires=…&OSSAccessKeyId=…&Signature=…`) that stop working after their lifetime on the
 * simulated clock with OSS's own XML errors. Images are rendered on first download and cached, so
 * tasks that are never downloaded cost no CPU.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from './auth.js';
import { ossFailure, type Reply } from './http.js';
import type { Records } from './records.js';
import { renderResult, type RenderInput } from './renderer.js';

export const RESULT_BUCKET = 'dashscope-result-bj';
const HOST_ID = `${RESULT_BUCKET}.oss-cn-beijing.aliyuncs.com`;
const PATH_RE = /^\/results\/([A-Za-z0-9-]+)\/(\d+)\.png$/;
const CACHE_SIZE = 32;

export class ResultImages {
  private readonly accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
  private readonly secret = randomBytes(20).toString('base64');
  // Insertion-ordered map as a small LRU; values are promises so concurrent downloads render once.
  private readonly cache = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly origin: () => string,
    private readonly now: () => number,
    /** The render input of image `index` (1-based) of a task, if that image exists now. */
    private readonly source: (taskId: string, index: number) => RenderInput | undefined,
    private readonly records: Records,
    /** Draws image `index` of a task (default: the full renderer; the soak run passes a cheap one). */
    private readonly draw: (input: RenderInput) => Promise<Buffer> = renderResult,
  ) {}

  /** The signed URL of image `index` (1-based), valid until `expiresAt` (simulated epoch ms). */
  url(taskId: string, index: number, expiresAt: number): string {
    const path = `/results/${taskId}/${index}.png`;
    const expires = Math.floor(expiresAt / 1000);
    const q = new URLSearchParams({ Expires: String(expires), OSSAccessKeyId: this.accessKeyId, Signature: this.sign(path, expires) });
    return `${this.origin()}${path}?${q.toString()}`;
  }

  matches(pathname: string): boolean {
    return PATH_RE.test(pathname);
  }

  async download(url: URL): Promise<Reply> {
    const m = PATH_RE.exec(url.pathname);
    const taskId = m?.[1] ?? '';
    const index = Number(m?.[2] ?? 0);
    const { reply, code } = await this.answer(url, taskId, index);
    this.records.downloads.push({
      at: this.now(),
      realAt: Date.now(),
      taskId,
      index,
      status: reply.status,
      code: reply.status === 200 ? undefined : code,
    });
    return reply;
  }

  private async answer(url: URL, taskId: string, index: number): Promise<{ reply: Reply; code?: string }> {
    const expires = url.searchParams.get('Expires');
    const signature = url.searchParams.get('Signature');
    const keyId = url.searchParams.get('OSSAccessKeyId');
    if (!expires || !signature || !keyId) {
      return ossFailure(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.', HOST_ID);
    }
    if (keyId !== this.accessKeyId) {
      return ossFailure(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', HOST_ID, { OSSAccessKeyId: keyId });
    }
    if (!safeEqual(signature, this.sign(url.pathname, Number(expires)))) {
      return ossFailure(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        HOST_ID,
      );
    }
    const nowSec = Math.floor(this.now() / 1000);
    if (Number(expires) < nowSec) {
      return ossFailure(403, 'AccessDenied', 'Request has expired.', HOST_ID, {
        Expires: new Date(Number(expires) * 1000).toISOString(),
        ServerTime: new Date(nowSec * 1000).toISOString(),
      });
    }
    const input = this.source(taskId, index);
    if (!input) return ossFailure(404, 'NoSuchKey', 'The specified key does not exist.', HOST_ID, { Key: url.pathname.slice(1) });
    const png = await this.render(`${taskId}/${index}`, input);
    return {
      reply: {
        status: 200,
        headers: { 'content-type': 'image/png', etag: `"${taskId}-${index}"`, server: 'AliyunOSS', 'x-oss-object-type': 'Normal' },
        body: png,
      },
    };
  }

  /** Drops cached images of a purged task. */
  forget(taskId: string): void {
    for (const k of [...this.cache.keys()]) if (k.startsWith(`${taskId}/`)) this.cache.delete(k);
  }

  private render(key: string, input: RenderInput): Promise<Buffer> {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const p = this.draw(input);
    p.catch(() => this.cache.delete(key));
    this.cache.set(key, p);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  private sign(path: string, expires: number): string {
    // OSS V1 query signing: GET, no MD5, no type, the expiry, the canonical resource.
    return createHmac('sha1', this.secret).update(`GET\n\n\n${expires}\n/${RESULT_BUCKET}${path}`).digest('base64');
  }
}
