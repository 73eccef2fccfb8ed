/**
 * OSS signature V1 (HMAC-SHA1), only used when the emulator is started with `allowV1`: OSS no
 * longer offers V1 to new buckets, so by default the emulator refuses it to catch regressions.
 */
import { createHmac } from 'node:crypto';
import type { QueryParam } from './request-url.js';

/** The query parameters OSS signs in V1 (sub-resources); ordinary ones like `prefix` are not signed. */
const SUBRESOURCES = new Set([
  'acl', 'uploadId', 'partNumber', 'uploads', 'cors', 'logging', 'website', 'delete', 'referer', 'lifecycle', 'security-token',
  'append', 'position', 'x-oss-process', 'objectMeta', 'symlink', 'tagging', 'versionId', 'versioning', 'versions', 'location',
  'bucketInfo', 'continuation-token', 'restore', 'qos', 'callback', 'callback-var', 'x-oss-traffic-limit', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'requestPayment', 'encryption', 'policy', 'stat', 'live', 'status', 'comp', 'vod', 'startTime',
  'endTime', 'replication', 'inventory', 'worm', 'objectInfo',
]);

export function canonicalResourceV1(bucket: string, key: string, query: QueryParam[]): string {
  const subs = query.filter((q) => SUBRESOURCES.has(q.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const tail = subs.map((q) => (q.value ? `${q.name}=${q.value}` : q.name)).join('&');
  return `${bucket === '' ? '/' : `/${bucket}/${key}`}${tail ? `?${tail}` : ''}`;
}

export function stringToSignV1(method: string, headers: Record<string, string>, dateLine: string, resource: string): string {
  const oss = Object.keys(headers)
    .filter((n) => n.startsWith('x-oss-'))
    .sort()
    .map((n) => `${n}:${(headers[n] ?? '').trim()}`);
  return [method.toUpperCase(), headers['content-md5'] ?? '', headers['content-type'] ?? '', dateLine, ...oss, resource].join('\n');
}

export function signV1(secret: string, toSign: string): string {
  return createHmac('sha1', secret).update(Buffer.from(toSign, 'utf8')).digest('base64');
}
