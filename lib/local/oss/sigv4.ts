/**
 * OSS signature V4 (OSS4-HMAC-SHA256), computed exactly as ali-oss 6.23 `signUtils` does, so the
 * emulator verifies what the SDK really sends: header-signed requests and presigned URLs alike.
 */
import { createHash, createHmac } from 'node:crypto';
import { compareUtf8 } from '../utf8.js';
import type { QueryParam } from './request-url.js';

/** ali-oss `encodeString`: encodeURIComponent plus !'()* escaped. */
export function encodeString(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/bucket/key` with '/' kept; a bucket-level request is `/bucket/`, a service-level one (ListBuckets) `/`. */
export function canonicalUri(bucket: string, key: string): string {
  return encodeString(bucket === '' ? '/' : `/${bucket}/${key}`).replace(/%2F/g, '/');
}

export interface QueryStyle {
  /** How an empty value is written: `k` (ali-oss subresources) or `k=` (ali-oss plain queries). */
  emptyAsBare: boolean;
  /** ali-oss sorts with localeCompare; OSS documents byte order. Both are tried. */
  order: 'locale' | 'byte';
}

export function canonicalQuery(params: QueryParam[], style: QueryStyle): string {
  const sorted = [...params].sort((a, b) =>
    style.order === 'locale' ? a.name.localeCompare(b.name) : compareUtf8(a.name, b.name),
  );
  return sorted
    .map(({ name, value }) => {
      if (value === null || (value === '' && style.emptyAsBare)) return encodeString(name);
      return `${encodeString(name)}=${encodeString(value)}`;
    })
    .join('&');
}

/** content-type, content-md5, every x-oss-* header and the listed additional headers. */
export function canonicalHeaders(headers: Record<string, string>, additional: string[]): string {
  const names = new Set(additional);
  for (const name of Object.keys(headers)) {
    if (name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-')) names.add(name);
  }
  return [...names]
    .sort()
    .map((n) => `${n}:${(headers[n] ?? '').trim()}\n`)
    .join('');
}

export interface CanonicalInput {
  method: string;
  bucket: string;
  key: string;
  query: QueryParam[];
  headers: Record<string, string>;
  additionalHeaders: string[];
  queryStyle: QueryStyle;
}

export function canonicalRequest(input: CanonicalInput): string {
  return [
    input.method.toUpperCase(),
    canonicalUri(input.bucket, input.key),
    canonicalQuery(input.query, input.queryStyle),
    canonicalHeaders(input.headers, input.additionalHeaders),
    input.additionalHeaders.join(';'),
    input.headers['x-oss-content-sha256'] || 'UNSIGNED-PAYLOAD',
  ].join('\n');
}

export function stringToSign(isoDate: string, region: string, canonical: string, product = 'oss'): string {
  const scope = `${isoDate.split('T')[0]}/${region}/${product}/aliyun_v4_request`;
  return ['OSS4-HMAC-SHA256', isoDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
}

export function signV4(secret: string, day: string, region: string, toSign: string, product = 'oss'): string {
  let key = createHmac('sha256', `aliyun_v4${secret}`).update(day).digest();
  key = createHmac('sha256', key).update(region).digest();
  key = createHmac('sha256', key).update(product).digest();
  key = createHmac('sha256', key).update('aliyun_v4_request').digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/** `yyyymmddTHHMMSSZ` → epoch ms, or undefined when malformed. */
export function parseIsoBasic(value: string | undefined): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The query styles worth trying: only requests with empty values can differ. */
export function queryStyles(query: QueryParam[]): QueryStyle[] {
  const styles: QueryStyle[] = [{ emptyAsBare: true, order: 'locale' }];
  const hasEmpty = query.some((q) => q.value === '');
  if (hasEmpty) styles.push({ emptyAsBare: false, order: 'locale' });
  const names = query.map((q) => q.name);
  const locale = [...names].sort((a, b) => a.localeCompare(b)).join('\n');
  const bytes = [...names].sort(compareUtf8).join('\n');
  if (locale !== bytes) for (const s of [...styles]) styles.push({ ...s, order: 'byte' });
  return styles;
}
