/** Bucket operations: ListObjects (V1), ListObjectsV2, DeleteMultipleObjects, GetBucketInfo, GetBucketLocation. */
import { xmlReply, type OpContext } from './context.js';
import { E } from './errors.js';
import { listPage } from './listing.js';
import { checkContentMd5, quoteEtag } from './ops-object.js';
import { queryValue } from './request-url.js';
import type { ObjectRecord } from './store.js';
import { iso, unescapeXml, type XmlNode } from './xml.js';

function maxKeysOf(ctx: OpContext): number {
  const raw = queryValue(ctx.query, 'max-keys');
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 1000) throw E.invalidArgument('max-keys must be an integer from 1 to 1000.', 'max-keys', raw);
  return n;
}

function encoderOf(ctx: OpContext): (s: string) => string {
  const encoding = queryValue(ctx.query, 'encoding-type');
  if (encoding === undefined || encoding === '') return (s) => s;
  if (encoding !== 'url') throw E.invalidArgument('encoding-type can only be url.', 'encoding-type', encoding);
  return (s) => encodeURIComponent(s);
}

function contents(ctx: OpContext, items: Array<{ key: string; record: ObjectRecord }>, enc: (s: string) => string, owner: boolean): XmlNode[] {
  return items.map(({ key, record }) => ({
    Key: enc(key),
    LastModified: iso(record.lastModified),
    ETag: quoteEtag(record.etag),
    Type: record.objectType,
    Size: record.size,
    StorageClass: 'Standard',
    // ali-oss's V1 list() reads Owner.ID without a check: always there in V1.
    Owner: owner ? { ID: ctx.env.accountId, DisplayName: ctx.env.accountId } : undefined,
  }));
}

export function listObjects(ctx: OpContext): void {
  const enc = encoderOf(ctx);
  const prefix = queryValue(ctx.query, 'prefix') ?? '';
  const marker = queryValue(ctx.query, 'marker') ?? '';
  const delimiter = queryValue(ctx.query, 'delimiter') ?? '';
  const maxKeys = maxKeysOf(ctx);
  const page = listPage(ctx.env.store(ctx.bucket).list(prefix), { prefix, marker, delimiter, maxKeys });
  xmlReply(ctx, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: enc(prefix),
    Marker: enc(marker),
    MaxKeys: maxKeys,
    Delimiter: enc(delimiter),
    IsTruncated: page.truncated,
    NextMarker: page.next !== undefined ? enc(page.next) : undefined,
    EncodingType: queryValue(ctx.query, 'encoding-type') ? 'url' : undefined,
    Contents: contents(ctx, page.contents, enc, true),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

/** Continuation tokens are opaque to clients; here they are the base64 of the last key returned. */
const encodeToken = (key: string) => Buffer.from(key, 'utf8').toString('base64');
function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64').toString('utf8');
  if (encodeToken(key) !== token) throw E.invalidArgument('The continuation token provided is incorrect.', 'continuation-token', token);
  return key;
}

export function listObjectsV2(ctx: OpContext): void {
  const enc = encoderOf(ctx);
  const prefix = queryValue(ctx.query, 'prefix') ?? '';
  const delimiter = queryValue(ctx.query, 'delimiter') ?? '';
  const token = queryValue(ctx.query, 'continuation-token');
  const startAfter = queryValue(ctx.query, 'start-after');
  const maxKeys = maxKeysOf(ctx);
  const marker = token ? decodeToken(token) : (startAfter ?? '');
  const page = listPage(ctx.env.store(ctx.bucket).list(prefix), { prefix, marker, delimiter, maxKeys });
  xmlReply(ctx, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: enc(prefix),
    ContinuationToken: token || undefined,
    StartAfter: startAfter !== undefined ? enc(startAfter) : undefined,
    MaxKeys: maxKeys,
    Delimiter: enc(delimiter),
    IsTruncated: page.truncated,
    NextContinuationToken: page.next !== undefined ? encodeToken(page.next) : undefined,
    KeyCount: page.contents.length + page.commonPrefixes.length,
    EncodingType: queryValue(ctx.query, 'encoding-type') ? 'url' : undefined,
    Contents: contents(ctx, page.contents, enc, queryValue(ctx.query, 'fetch-owner') === 'true'),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

export function deleteMultipleObjects(ctx: OpContext): void {
  checkContentMd5(ctx);
  const text = ctx.body.toString('utf8');
  if (!/<Delete>[\s\S]*<\/Delete>/.test(text)) throw E.malformedXml();
  const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(text);
  const keys = [...text.matchAll(/<Object>\s*<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g)].map((m) => unescapeXml(m[1]!));
  if (keys.length === 0 || keys.length > 1000) throw E.malformedXml();
  const enc = encoderOf(ctx);
  const store = ctx.env.store(ctx.bucket);
  for (const key of keys) {
    const removed = store.remove(key);
    if (removed) ctx.env.emitObjectEvent(ctx, 'ObjectRemoved:DeleteObjects', ctx.bucket, key, removed, removed.size);
  }
  xmlReply(ctx, 'DeleteResult', {
    EncodingType: queryValue(ctx.query, 'encoding-type') ? 'url' : undefined,
    Deleted: quiet ? undefined : keys.map((k) => ({ Key: enc(k) })),
  });
}

export function getBucketInfo(ctx: OpContext): void {
  const region = ctx.env.regionId;
  xmlReply(ctx, 'BucketInfo', {
    Bucket: {
      AccessMonitor: 'Disabled',
      CreationDate: iso(ctx.env.bucketCreated(ctx.bucket)),
      ExtranetEndpoint: `${region}.aliyuncs.com`,
      IntranetEndpoint: `${region}-internal.aliyuncs.com`,
      Location: region,
      StorageClass: 'Standard',
      TransferAcceleration: 'Disabled',
      CrossRegionReplication: 'Disabled',
      Name: ctx.bucket,
      Owner: { DisplayName: ctx.env.accountId, ID: ctx.env.accountId },
      AccessControlList: { Grant: 'private' },
    },
  });
}

export function getBucketLocation(ctx: OpContext): void {
  xmlReply(ctx, 'LocationConstraint', ctx.env.regionId);
}
