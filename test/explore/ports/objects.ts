/**
 * ObjectStore in memory, with the real adapter's semantics (lib/adapters/oss.ts over OSS): ETags
 * are the content MD5 in upper-case hex, unquoted (identical bytes, identical ETag); `list` and
 * `head` report lastModified in whole seconds (OSS's Last-Modified); `head`/`getRange` give
 * undefined for a missing key, `getRange` past the end gives empty bytes (a 416); `image/info` of a
 * missing key is a 404 ObjectStoreError; `delete` of a missing key succeeds.
 *
 * Each actor sees the bucket through `objectsPort`, where every call is a scheduling point that
 * may fail: a 500, a transport error (a write may have landed), and on `image/info` a 403 (a
 * missing permission) or a 404 (as if the sketch had just been deleted). `presignGet` signs locally (never fails) and names the key in its path, so
 * the fake DashScope can read the sketch back.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ImageInfo } from '../../../lib/contract/image-check.js';
import { ObjectStoreError, TransportError } from '../../../lib/errors.js';
import type { ObjectHead, ObjectStore, ObjectSummary } from '../../../lib/core/ports.js';
import type { Actor, Scheduler } from '../scheduler.js';
import type { Faults } from './faults.js';
import { imageSize } from './png.js';

export interface StoredObject {
  bytes: Buffer;
  etag: string;
  lastModified: number;
  contentType: string;
  meta: Record<string, string>;
}

export type Writer = 'user' | 'core';

export const BUCKET_HOST = 'explorer-bucket.oss-cn-beijing.aliyuncs.com';

export class MemoryBucket {
  readonly objects = new Map<string, StoredObject>();
  private sortedKeys: string[] | undefined;
  /** Told of every stored object (FC turns it into an event; the checks read outputs). */
  onWrite: ((key: string, obj: StoredObject, writer: Writer) => void) | undefined;

  constructor(
    readonly bucket: string,
    private readonly now: () => number,
  ) {}

  write(key: string, bytes: Buffer, contentType: string, meta: Record<string, string>, writer: Writer): StoredObject {
    const obj: StoredObject = { bytes, etag: createHash('md5').update(bytes).digest('hex').toUpperCase(), lastModified: this.now(), contentType, meta };
    if (!this.objects.has(key)) this.sortedKeys = undefined;
    this.objects.set(key, obj);
    this.onWrite?.(key, obj, writer);
    return obj;
  }

  remove(key: string): void {
    if (this.objects.delete(key)) this.sortedKeys = undefined;
  }

  keys(): string[] {
    return (this.sortedKeys ??= [...this.objects.keys()].sort());
  }

  list(prefix: string): ObjectSummary[] {
    const out: ObjectSummary[] = [];
    for (const key of this.keys()) {
      if (!key.startsWith(prefix)) continue;
      const o = this.objects.get(key)!;
      out.push({ key, size: o.bytes.length, etag: o.etag, lastModified: wholeSeconds(o.lastModified) });
    }
    return out;
  }

  listPage(prefix: string, after: string | undefined, limit: number): { objects: ObjectSummary[]; next?: string } {
    const all = this.list(prefix).filter((o) => after === undefined || o.key > after);
    const objects = all.slice(0, limit);
    return { objects, ...(all.length > limit ? { next: objects[objects.length - 1]!.key } : {}) };
  }

  copy(from: string, to: string, meta: Record<string, string> | undefined): { etag: string } | undefined {
    const o = this.objects.get(from);
    if (!o) return undefined;
    return { etag: this.write(to, o.bytes, o.contentType, meta ?? { ...o.meta }, 'core').etag };
  }

  head(key: string): ObjectHead | undefined {
    const o = this.objects.get(key);
    return o && { key, size: o.bytes.length, etag: o.etag, lastModified: wholeSeconds(o.lastModified), contentType: o.contentType, meta: { ...o.meta } };
  }

  getRange(key: string, start: number, end: number): Buffer | undefined {
    const o = this.objects.get(key);
    if (!o) return undefined;
    if (start >= o.bytes.length) return Buffer.alloc(0);
    return Buffer.from(o.bytes.subarray(start, Math.min(end + 1, o.bytes.length)));
  }

  imageInfo(key: string): ImageInfo {
    const o = this.objects.get(key);
    if (!o) throw new ObjectStoreError('NoSuchKey', `image/info ${key}: The specified key does not exist.`, 404);
    const size = imageSize(o.bytes);
    if (!size) throw new ObjectStoreError('BadRequest', `image/info ${key}: The image format is not supported.`, 400);
    return { width: size.width, height: size.height, format: size.format };
  }

  presign(key: string, ttlSeconds: number, process?: string): string {
    const path = key.split('/').map(encodeURIComponent).join('/');
    const query = new URLSearchParams({
      ...(process ? { 'x-oss-process': process } : {}),
      'x-oss-signature-version': 'OSS4-HMAC-SHA256',
      'x-oss-expires': String(ttlSeconds),
      'x-oss-signature': 'explorer',
    });
    return `https://${BUCKET_HOST}/${path}?${query.toString()}`;
  }
}

/** The object key a presigned URL of this bucket names, or undefined. */
export function keyOfUrl(url: string): string | undefined {
  const u = new URL(url);
  if (u.host !== BUCKET_HOST) return undefined;
  return u.pathname.slice(1).split('/').map(decodeURIComponent).join('/');
}

/** OSS's If-Match: a read pinned to an ETag the object no longer has answers 412. */
function pinned(bucket: MemoryBucket, key: string, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  const o = bucket.objects.get(key);
  if (o && o.etag !== ifMatch) throw new ObjectStoreError('PreconditionFailed', `${key}: At least one of the pre-conditions you specified did not hold.`, 412);
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

async function bytesOf(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

type ObjectFault = 'error500' | 'reset-before' | 'reset-after' | 'denied403' | 'missing404';
const READ_FAULTS = [
  ['error500', 2],
  ['reset-before', 1],
] as const satisfies ReadonlyArray<readonly [ObjectFault, number]>;
const WRITE_FAULTS = [
  ['error500', 2],
  ['reset-before', 1],
  ['reset-after', 1],
] as const satisfies ReadonlyArray<readonly [ObjectFault, number]>;
const INFO_FAULTS = [
  ['denied403', 2],
  ['missing404', 1],
  ['error500', 1],
  ['reset-before', 1],
] as const satisfies ReadonlyArray<readonly [ObjectFault, number]>;

function faultError(fault: ObjectFault, what: string): Error {
  switch (fault) {
    case 'error500':
      return new ObjectStoreError('InternalError', `${what}: We encountered an internal error. Please try again.`, 500);
    case 'denied403':
      return new ObjectStoreError('AccessDenied', `${what}: You have no right to access this object because of bucket acl.`, 403);
    case 'missing404':
      // As if the sketch had been deleted meanwhile (issue 13 run 7).
      return new ObjectStoreError('NoSuchKey', `${what}: The specified key does not exist.`, 404);
    default:
      return new TransportError('oss', `${what}: ResponseTimeoutError`, true);
  }
}

export function objectsPort(sched: Scheduler, actor: Actor, bucket: MemoryBucket, faults: Faults): ObjectStore {
  function read<T>(name: string, what: string, run: () => T, kind: 'objects' | 'imageInfo' = 'objects'): Promise<T> {
    return sched.call(actor, 'objects', name, what, () => {
      const fault = faults.choose(actor, kind, kind === 'imageInfo' ? INFO_FAULTS : READ_FAULTS, what);
      if (fault) throw faultError(fault, `${name} ${what}`);
      return run();
    });
  }
  return {
    list: (prefix) => read('list', prefix, () => bucket.list(prefix)),
    listPage: (prefix, options) => read('listPage', `${prefix} after ${options.after ?? ''}`, () => bucket.listPage(prefix, options.after, options.limit)),
    copy: (from, to, options) =>
      sched.call(actor, 'objects', 'copy', `${from} → ${to}`, () => {
        const fault = faults.choose(actor, 'objects', WRITE_FAULTS, to);
        if (fault === 'reset-after') bucket.copy(from, to, options?.meta);
        if (fault) throw faultError(fault, `copy ${from} to ${to}`);
        return bucket.copy(from, to, options?.meta);
      }),
    head: (key, options) => read('head', key, () => (pinned(bucket, key, options?.ifMatch), bucket.head(key))),
    getRange: (key, start, end, options) => read('getRange', `${key} [${start}-${end}]`, () => (pinned(bucket, key, options?.ifMatch), bucket.getRange(key, start, end))),
    imageInfo: (key, options) => read('imageInfo', key, () => (pinned(bucket, key, options?.ifMatch), bucket.imageInfo(key)), 'imageInfo'),
    put: (key, body, options) =>
      sched.call(actor, 'objects', 'put', key, async () => {
        const bytes = await bytesOf(body);
        const fault = faults.choose(actor, 'objects', WRITE_FAULTS, key);
        if (fault === 'reset-after') bucket.write(key, bytes, options.contentType, {}, 'core');
        if (fault) throw faultError(fault, `put ${key}`);
        return { etag: bucket.write(key, bytes, options.contentType, {}, 'core').etag };
      }),
    delete: (key) =>
      sched.call(actor, 'objects', 'delete', key, () => {
        const fault = faults.choose(actor, 'objects', WRITE_FAULTS, key);
        if (fault === 'reset-after') bucket.remove(key);
        if (fault) throw faultError(fault, `delete ${key}`);
        bucket.remove(key);
      }),
    presignGet: (key, ttl, process) => sched.call(actor, 'objects', 'presignGet', key, () => bucket.presign(key, ttl, process)),
  };
}
