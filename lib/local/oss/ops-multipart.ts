/**
 * Multipart upload, as ali-oss's multipartUpload drives it: Initiate, UploadPart, Complete
 * (→ ObjectCreated:CompleteMultipartUpload), Abort, ListParts, ListMultipartUploads.
 * Uploads in progress live in memory only; the finished object goes to the bucket's store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { xmlReply, type OpContext } from './context.js';
import { crc64 } from './crc64.js';
import { E } from './errors.js';
import { checkContentMd5, checkObjectKey, quoteEtag, writeInfoFrom } from './ops-object.js';
import { hasQuery, queryValue } from './request-url.js';
import { md5Hex, type WriteInfo } from './store.js';
import { iso } from './xml.js';

interface Part {
  body: Buffer;
  etag: string;
  at: number;
}

interface Upload {
  bucket: string;
  key: string;
  info: WriteInfo;
  parts: Map<number, Part>;
  initiated: number;
}

/** OSS's minimum size for every part but the last. */
const MIN_PART_BYTES = 100 * 1024;

export class MultipartUploads {
  private readonly uploads = new Map<string, Upload>();

  private find(ctx: OpContext): [string, Upload] {
    const id = queryValue(ctx.query, 'uploadId') ?? '';
    const up = this.uploads.get(id);
    if (!up || up.bucket !== ctx.bucket || up.key !== ctx.key) throw E.noSuchUpload(id);
    return [id, up];
  }

  initiate(ctx: OpContext): void {
    checkObjectKey(ctx.key);
    ctx.env.store(ctx.bucket); // NoSuchBucket before anything else
    const id = randomBytes(16).toString('hex').toUpperCase();
    this.uploads.set(id, { bucket: ctx.bucket, key: ctx.key, info: writeInfoFrom(ctx, ctx.key), parts: new Map(), initiated: ctx.env.now() });
    xmlReply(ctx, 'InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: id });
  }

  uploadPart(ctx: OpContext): void {
    const [, up] = this.find(ctx);
    const raw = queryValue(ctx.query, 'partNumber') ?? '';
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 10000) throw E.invalidPartNumber(raw);
    checkContentMd5(ctx);
    const etag = md5Hex(ctx.body);
    up.parts.set(n, { body: Buffer.from(ctx.body), etag, at: ctx.env.now() });
    ctx.reply(200, { ETag: quoteEtag(etag), 'x-oss-hash-crc64ecma': crc64(ctx.body) });
  }

  complete(ctx: OpContext): void {
    const [id, up] = this.find(ctx);
    let numbers: number[];
    if (ctx.headers['x-oss-complete-all']?.toLowerCase() === 'yes') {
      numbers = [...up.parts.keys()].sort((a, b) => a - b);
    } else {
      const text = ctx.body.toString('utf8');
      const listed = [...text.matchAll(/<Part>\s*<PartNumber>\s*(\d+)\s*<\/PartNumber>\s*<ETag>\s*([^<]*?)\s*<\/ETag>\s*<\/Part>/g)];
      if (!/<CompleteMultipartUpload>/.test(text) || listed.length === 0) throw E.malformedXml();
      numbers = [];
      for (const [, num, etag] of listed) {
        const part = up.parts.get(Number(num));
        if (!part || part.etag !== etag!.replace(/"/g, '').toUpperCase()) {
          throw E.invalidPart();
        }
        if (numbers.length > 0 && Number(num) <= numbers[numbers.length - 1]!) {
          throw E.invalidPartOrder();
        }
        numbers.push(Number(num));
      }
    }
    if (numbers.length === 0) throw E.malformedXml();
    const parts = numbers.map((n) => up.parts.get(n)!);
    if (parts.slice(0, -1).some((p) => p.body.length < MIN_PART_BYTES)) {
      throw E.entityTooSmall();
    }
    const digest = createHash('md5');
    for (const p of parts) digest.update(Buffer.from(p.etag, 'hex'));
    const etag = `${digest.digest('hex').toUpperCase()}-${parts.length}`;
    if (ctx.headers['x-oss-forbid-overwrite']?.toLowerCase() === 'true' && ctx.env.store(ctx.bucket).head(ctx.key)) {
      throw E.fileAlreadyExists('0042-00000214');
    }
    const { record, previous } = ctx.env.store(ctx.bucket).write(ctx.key, Buffer.concat(parts.map((p) => p.body)), {
      ...up.info,
      etag,
      objectType: 'Multipart',
      lastModified: ctx.env.now(),
    });
    this.uploads.delete(id);
    ctx.env.emitObjectEvent(ctx, 'ObjectCreated:CompleteMultipartUpload', ctx.bucket, ctx.key, record, previous?.size);
    xmlReply(
      ctx,
      'CompleteMultipartUploadResult',
      { Location: `/${ctx.bucket}/${ctx.key}`, Bucket: ctx.bucket, Key: ctx.key, ETag: quoteEtag(etag) },
      { ETag: quoteEtag(etag), 'x-oss-hash-crc64ecma': record.crc64 },
    );
  }

  abort(ctx: OpContext): void {
    const [id] = this.find(ctx);
    this.uploads.delete(id);
    ctx.reply(204, {});
  }

  listParts(ctx: OpContext): void {
    const [id, up] = this.find(ctx);
    const parts = [...up.parts.entries()].sort(([a], [b]) => a - b);
    xmlReply(ctx, 'ListPartsResult', {
      Bucket: up.bucket,
      Key: up.key,
      UploadId: id,
      PartNumberMarker: 0,
      NextPartNumberMarker: parts.at(-1)?.[0] ?? 0,
      MaxParts: 1000,
      IsTruncated: false,
      Part: parts.map(([n, p]) => ({ PartNumber: n, LastModified: iso(p.at), ETag: quoteEtag(p.etag), Size: p.body.length })),
    });
  }

  listUploads(ctx: OpContext): void {
    ctx.env.store(ctx.bucket);
    const prefix = queryValue(ctx.query, 'prefix') ?? '';
    const uploads = [...this.uploads.entries()].filter(([, u]) => u.bucket === ctx.bucket && u.key.startsWith(prefix));
    xmlReply(ctx, 'ListMultipartUploadsResult', {
      Bucket: ctx.bucket,
      KeyMarker: '',
      UploadIdMarker: '',
      NextKeyMarker: '',
      NextUploadIdMarker: '',
      Delimiter: '',
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads.map(([id, u]) => ({ Key: u.key, UploadId: id, Initiated: iso(u.initiated) })),
    });
  }

  /** Which multipart operation a request is, if any. */
  static kind(method: string, key: string, query: OpContext['query']): keyof typeof MULTIPART_ACTIONS | undefined {
    if (key === '') return method === 'GET' && hasQuery(query, 'uploads') ? 'listUploads' : undefined;
    if (method === 'POST' && hasQuery(query, 'uploads')) return 'initiate';
    if (!hasQuery(query, 'uploadId')) return undefined;
    if (method === 'PUT' && hasQuery(query, 'partNumber')) return 'uploadPart';
    if (method === 'POST') return 'complete';
    if (method === 'DELETE') return 'abort';
    if (method === 'GET') return 'listParts';
    return undefined;
  }
}

/** RAM actions: OSS authorizes the upload steps as oss:PutObject. */
export const MULTIPART_ACTIONS = {
  initiate: ['InitiateMultipartUpload', 'oss:PutObject'],
  uploadPart: ['UploadPart', 'oss:PutObject'],
  complete: ['CompleteMultipartUpload', 'oss:PutObject'],
  abort: ['AbortMultipartUpload', 'oss:AbortMultipartUpload'],
  listParts: ['ListParts', 'oss:ListParts'],
  listUploads: ['ListMultipartUploads', 'oss:ListMultipartUploads'],
} as const;
