/** Object operations: PutObject, GetObject (with Range and x-oss-process), HeadObject, GetObjectMeta, DeleteObject, CopyObject. */
import { createHash } from 'node:crypto';
import { headerOut, xmlReply, type OpContext } from './context.js';
import { E } from './errors.js';
import { applyProcess, parseProcess } from './image-process.js';
import { mimeTypeFor } from './mime.js';
import { parseRange } from './range.js';
import { queryValue } from './request-url.js';
import { STORED_HEADERS, type ObjectRecord, type WriteInfo } from './store.js';
import { iso } from './xml.js';

export const quoteEtag = (etag: string) => `"${etag}"`;
/** "The total size of all user metadata cannot exceed 8 KB" (OSS PutObject; EC 0011-00000002): names with their prefix, plus values. */
export const MAX_USER_META_BYTES = 8 * 1024;
const httpDate = (ms: number) => new Date(ms).toUTCString();

export function checkObjectKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > 1023) throw E.invalidObjectName('The Length of Object name must be less than 1024.');
  if (key.startsWith('/') || key.startsWith('\\')) throw E.invalidObjectName('The specified object is not valid: a name cannot start with "/" or "\\".');
}

/** Content type, user metadata and stored headers of an upload, from its request headers. */
export function writeInfoFrom(ctx: OpContext, key: string): WriteInfo {
  const userMeta: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(ctx.headers)) {
    if (name.startsWith('x-oss-meta-')) {
      userMeta[name.slice('x-oss-meta-'.length)] = value;
      metaBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    } else if ((STORED_HEADERS as readonly string[]).includes(name)) headers[name] = value;
  }
  if (metaBytes > MAX_USER_META_BYTES) throw E.metadataTooLarge();
  return { contentType: ctx.headers['content-type'] || mimeTypeFor(key), userMeta, headers, lastModified: ctx.env.now() };
}

export function checkContentMd5(ctx: OpContext): void {
  const md5 = ctx.headers['content-md5'];
  if (md5 === undefined) return;
  const given = Buffer.from(md5, 'base64');
  if (given.length !== 16 || given.toString('base64') !== md5.trim()) throw E.invalidDigest();
  if (!createHash('md5').update(ctx.body).digest().equals(given)) throw E.invalidDigest();
}

function checkForbidOverwrite(ctx: OpContext, bucket: string, key: string): void {
  if (ctx.headers['x-oss-forbid-overwrite']?.toLowerCase() === 'true' && ctx.env.store(bucket).head(key)) {
    throw E.fileAlreadyExists('0026-00000201');
  }
}

export function objectHeaders(record: ObjectRecord): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'Content-Type': headerOut(record.contentType),
    ETag: quoteEtag(record.etag),
    'Last-Modified': httpDate(record.lastModified),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': record.objectType,
    'x-oss-storage-class': 'Standard',
    'x-oss-hash-crc64ecma': record.crc64,
  };
  // A multipart object's ETag is not an MD5, so it has no Content-MD5.
  if (/^[0-9A-F]{32}$/.test(record.etag)) h['Content-MD5'] = Buffer.from(record.etag, 'hex').toString('base64');
  for (const [k, v] of Object.entries(record.headers)) h[k] = headerOut(v);
  for (const [k, v] of Object.entries(record.userMeta)) h[`x-oss-meta-${k}`] = headerOut(v);
  return h;
}

export function putObject(ctx: OpContext): void {
  checkObjectKey(ctx.key);
  checkContentMd5(ctx);
  const sha = ctx.headers['x-oss-content-sha256'];
  if (sha && /^[0-9a-f]{64}$/i.test(sha) && createHash('sha256').update(ctx.body).digest('hex') !== sha.toLowerCase()) {
    throw E.contentSha256Mismatch();
  }
  checkForbidOverwrite(ctx, ctx.bucket, ctx.key);
  const { record, previous } = ctx.env.store(ctx.bucket).write(ctx.key, ctx.body, writeInfoFrom(ctx, ctx.key));
  ctx.env.emitObjectEvent(ctx, 'ObjectCreated:PutObject', ctx.bucket, ctx.key, record, previous?.size);
  ctx.reply(200, { ETag: quoteEtag(record.etag), 'Content-MD5': Buffer.from(record.etag, 'hex').toString('base64'), 'x-oss-hash-crc64ecma': record.crc64 });
}

/** If-Match and friends; `undefined` when the request may proceed. */
function preconditions(ctx: OpContext, record: ObjectRecord, prefix = ''): 304 | 412 | undefined {
  const h = (name: string) => ctx.headers[`${prefix}${name}`];
  const etagIn = (list: string) => list.split(',').map((s) => s.trim().replace(/^W\//, '').replace(/"/g, '').toUpperCase());
  const ifMatch = h('if-match');
  if (ifMatch && !etagIn(ifMatch).includes(record.etag) && !ifMatch.includes('*')) return 412;
  const since = h('if-unmodified-since');
  if (since && !Number.isNaN(Date.parse(since)) && Math.floor(record.lastModified / 1000) > Math.floor(Date.parse(since) / 1000)) return 412;
  const noneMatch = h('if-none-match');
  if (noneMatch && (etagIn(noneMatch).includes(record.etag) || noneMatch.includes('*'))) return 304;
  const modSince = h('if-modified-since');
  if (modSince && !Number.isNaN(Date.parse(modSince)) && Math.floor(record.lastModified / 1000) <= Math.floor(Date.parse(modSince) / 1000)) return 304;
  return undefined;
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

export async function getObject(ctx: OpContext): Promise<void> {
  const found = ctx.env.store(ctx.bucket).read(ctx.key);
  if (!found) throw E.noSuchKey(ctx.key);
  const { record, body } = found;
  const pre = preconditions(ctx, record);
  if (pre === 412) throw E.preconditionFailed('If-Match');
  if (pre === 304) return ctx.reply(304, { ETag: quoteEtag(record.etag), 'Last-Modified': httpDate(record.lastModified) });

  const process = queryValue(ctx.query, 'x-oss-process');
  if (process !== undefined) {
    const out = await applyProcess(body, parseProcess(process));
    return ctx.reply(200, { 'Content-Type': out.contentType, 'Last-Modified': httpDate(record.lastModified) }, out.body);
  }

  const headers = objectHeaders(record);
  for (const q of ctx.query) {
    const header = RESPONSE_OVERRIDES[q.name];
    if (header && q.value !== null) headers[header] = headerOut(q.value);
  }
  const range = parseRange(ctx.headers.range, body.length);
  if (range.kind === 'unsatisfiable' && ctx.headers['x-oss-range-behavior'] === 'standard') throw E.invalidRange(body.length);
  if (range.kind === 'partial') {
    delete headers['Content-MD5'];
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${body.length}`;
    return ctx.reply(206, headers, body.subarray(range.start, range.end + 1));
  }
  ctx.reply(200, headers, body);
}

export function headObject(ctx: OpContext): void {
  const record = ctx.env.store(ctx.bucket).head(ctx.key);
  if (!record) throw E.noSuchKey(ctx.key);
  const pre = preconditions(ctx, record);
  if (pre === 412) throw E.preconditionFailed('If-Match');
  if (pre === 304) return ctx.reply(304, { ETag: quoteEtag(record.etag) });
  ctx.reply(200, { ...objectHeaders(record), 'Content-Length': record.size });
}

/** HEAD ?objectMeta: only ETag, size and Last-Modified. */
export function getObjectMeta(ctx: OpContext): void {
  const record = ctx.env.store(ctx.bucket).head(ctx.key);
  if (!record) throw E.noSuchKey(ctx.key);
  ctx.reply(200, { ETag: quoteEtag(record.etag), 'Content-Length': record.size, 'Last-Modified': httpDate(record.lastModified) });
}

export function deleteObject(ctx: OpContext): void {
  const removed = ctx.env.store(ctx.bucket).remove(ctx.key);
  if (removed) ctx.env.emitObjectEvent(ctx, 'ObjectRemoved:DeleteObject', ctx.bucket, ctx.key, removed, removed.size);
  // OSS answers 204 whether or not the object existed.
  ctx.reply(204, {});
}

/** `x-oss-copy-source: /<bucket>/<url-encoded key>[?versionId=…]`. */
export function parseCopySource(value: string): { bucket: string; key: string } {
  const path = value.split('?')[0]!.replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw E.invalidArgument('x-oss-copy-source must be /<bucket>/<key>.', 'x-oss-copy-source', value);
  try {
    return { bucket: path.slice(0, slash), key: decodeURIComponent(path.slice(slash + 1)) };
  } catch {
    throw E.invalidArgument('x-oss-copy-source is not correctly percent-encoded.', 'x-oss-copy-source', value);
  }
}

export function copyObject(ctx: OpContext): void {
  checkObjectKey(ctx.key);
  const source = parseCopySource(ctx.headers['x-oss-copy-source']!);
  const found = ctx.env.store(source.bucket).read(source.key);
  if (!found) throw E.noSuchKey(source.key);
  const pre = preconditions(ctx, found.record, 'x-oss-copy-source-');
  if (pre === 412) throw E.preconditionFailed('x-oss-copy-source-if-match');
  if (pre === 304) return ctx.reply(304, {});
  const directive = (ctx.headers['x-oss-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw E.invalidArgument('x-oss-metadata-directive must be COPY or REPLACE.', 'x-oss-metadata-directive', directive);
  }
  checkForbidOverwrite(ctx, ctx.bucket, ctx.key);
  const info: WriteInfo =
    directive === 'REPLACE'
      ? writeInfoFrom(ctx, ctx.key)
      : { contentType: found.record.contentType, userMeta: found.record.userMeta, headers: found.record.headers, lastModified: ctx.env.now() };
  const { record, previous } = ctx.env.store(ctx.bucket).write(ctx.key, found.body, info);
  ctx.env.emitObjectEvent(ctx, 'ObjectCreated:CopyObject', ctx.bucket, ctx.key, record, previous?.size);
  xmlReply(ctx, 'CopyObjectResult', { ETag: quoteEtag(record.etag), LastModified: iso(record.lastModified) }, { ETag: quoteEtag(record.etag), 'x-oss-hash-crc64ecma': record.crc64 });
}

