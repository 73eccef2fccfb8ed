/**
 * What a bucket keeps per object, and the storage interface shared by the memory and disk stores.
 * Synchronous on purpose: objects are small in tests, and a synchronous store makes concurrent
 * requests to one key, `peek()` and the watcher's bookkeeping simple and deterministic.
 */
import { createHash } from 'node:crypto';
import { compareUtf8 } from '../utf8.js';
import { crc64 } from './crc64.js';

export interface ObjectRecord {
  /** MD5 of the body, uppercase hex without quotes (OSS's ETag for a simple upload). */
  etag: string;
  /** CRC-64/ECMA-182 of the body, unsigned decimal, as `x-oss-hash-crc64ecma` carries it. */
  crc64: string;
  /** `x-oss-object-type`: a PutObject/CopyObject/PostObject object is Normal, a completed multipart upload Multipart. */
  objectType: ObjectType;
  size: number;
  contentType: string;
  /** User metadata, names lowercased without the `x-oss-meta-` prefix. */
  userMeta: Record<string, string>;
  /** Standard headers stored with the object (cache-control, content-disposition, …). */
  headers: Record<string, string>;
  lastModified: number;
}

export type ObjectType = 'Normal' | 'Multipart' | 'Appendable';

export interface WriteInfo {
  /** Set for multipart uploads, whose ETag is not the MD5 of the body (`<hex>-<parts>`). */
  etag?: string;
  /** Default 'Normal'. */
  objectType?: ObjectType;
  contentType: string;
  userMeta: Record<string, string>;
  headers: Record<string, string>;
  lastModified: number;
}

export interface BucketStore {
  head(key: string): ObjectRecord | undefined;
  read(key: string): { record: ObjectRecord; body: Buffer } | undefined;
  /** Throws an OssError when the key cannot be stored. Returns the previous version, if any. */
  write(key: string, body: Buffer, info: WriteInfo): { record: ObjectRecord; previous?: ObjectRecord };
  remove(key: string): ObjectRecord | undefined;
  /** Keys with the prefix, in OSS order (UTF-8 byte order). */
  list(prefix: string): Array<{ key: string; record: ObjectRecord }>;
  close(): void;
}

export function md5Hex(body: Buffer): string {
  return createHash('md5').update(body).digest('hex').toUpperCase();
}

/** The record a store keeps for `body` written with `info`. */
export function recordFor(body: Buffer, info: WriteInfo): ObjectRecord {
  const { etag = md5Hex(body), objectType = 'Normal', ...rest } = info;
  return { etag, crc64: crc64(body), objectType, size: body.length, ...rest };
}

/** OSS lists keys in UTF-8 byte order, which differs from JS string order for astral characters. */
export const compareKeys: (a: string, b: string) => number = compareUtf8;

/** Headers OSS keeps with an object and returns on GET/HEAD. */
export const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
