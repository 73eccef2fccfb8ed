/**
 * ObjectStore over the real `ali-oss` SDK, always with signature V4 (SPEC §3: OSS closed V1 to new
 * accounts and buckets in 2025). The SDK's quirks and the casts its typings need stay in this file.
 */
import OSS from 'ali-oss';
import type { Readable } from 'node:stream';
import type { ImageInfo } from '../contract/image-check.js';
import { ObjectStoreError, TransportError } from '../errors.js';
import { redact } from '../redact.js';
import type { ObjectHead, ObjectStore, ObjectSummary, ReadOptions } from '../core/ports.js';
import type { CloudCredentials } from './credentials.js';

export interface OssSettings {
  bucket: string;
  region: string;
  /** Override (local emulator, or a custom domain); otherwise `https://<region>.aliyuncs.com`. */
  endpoint?: string;
  /** Data requests over the region's internal network (inside Function Compute); URLs stay public. */
  internal?: boolean;
  timeoutMs?: number;
}

type OssError = Error & { code?: string; status?: number; requestId?: string };

const NETWORK_CODES = new Set(['ConnectionTimeoutError', 'ResponseTimeoutError', 'RequestError', 'ResponseError', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

/** One mapping from ali-oss failures to our error families. */
export function mapOssError(err: unknown, what: string): Error {
  const e = err as OssError;
  const status = typeof e?.status === 'number' ? e.status : -1;
  const code = String(e?.code ?? e?.name ?? 'Unknown');
  const message = redact(`${what}: ${e?.message ?? String(err)}`);
  if (status <= 0 || NETWORK_CODES.has(code)) {
    return new TransportError('oss', message, code !== 'ECONNREFUSED' && code !== 'ConnectionTimeoutError', { cause: err });
  }
  return new ObjectStoreError(code, message, status, { cause: err });
}

const isNotFound = (err: unknown) => {
  const e = err as OssError;
  return e?.status === 404 || e?.code === 'NoSuchKey';
};

/** OSS compares If-Match with the quoted ETag. */
const ifMatch = (read: ReadOptions): Record<string, string> => (read.ifMatch ? { 'If-Match': `"${read.ifMatch}"` } : {});

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
}

/**
 * OSS `image/info` answers `{"ImageWidth":{"value":"400"}, …}`. A reply of another shape is an
 * unreadable reply (retried), never a 0×0 image blamed on the user's file (issue 13 run 7).
 */
export function parseImageInfo(raw: unknown, key = ''): ImageInfo {
  const v = (name: string) => (raw as Record<string, { value?: unknown } | undefined>)?.[name]?.value;
  const width = Number(v('ImageWidth'));
  const height = Number(v('ImageHeight'));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ObjectStoreError('InvalidReply', `image/info ${key}: unexpected reply ${JSON.stringify(raw).slice(0, 120)}`, 502);
  }
  const orientation = v('Orientation') ?? v('ExifTag.Orientation');
  const format = v('Format');
  return {
    width,
    height,
    format: typeof format === 'string' ? format.toLowerCase() : '',
    ...(orientation !== undefined && Number.isFinite(Number(orientation)) ? { orientation: Number(orientation) } : {}),
  };
}

/**
 * The ali-oss client options for these settings and keys: signature V4, https unless the endpoint
 * says otherwise, and path style (`cname`) for a loopback emulator by hostname. Shared by the
 * ObjectStore and `sketchflow setup`'s bucket check.
 */
export function ossClientOptions(settings: OssSettings, credentials: CloudCredentials): OSS.Options {
  // A loopback emulator by hostname needs path style; an IP endpoint puts the bucket in Host.
  const local = settings.endpoint ? /^https?:\/\/(localhost|[^/]*\.localhost)(:\d+)?/i.test(settings.endpoint) : false;
  return {
    bucket: settings.bucket,
    region: settings.region,
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret,
    ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
    authorizationV4: true,
    secure: settings.endpoint ? settings.endpoint.startsWith('https:') : true,
    timeout: settings.timeoutMs ?? 30_000,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(local ? { cname: true } : {}),
  } as OSS.Options;
}

export function createObjectStore(settings: OssSettings, credentials: CloudCredentials): ObjectStore {
  const options = {
    ...ossClientOptions(settings, credentials),
    ...(credentials.securityToken
      ? {
          // FC hands fresh keys in each context and the runtime rebuilds this client when they
          // change; this only satisfies ali-oss, which warns on every client without it.
          refreshSTSToken: async () => ({ accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret, stsToken: credentials.securityToken! }),
          refreshSTSTokenInterval: 3600_000,
        }
      : {}),
  } as OSS.Options;
  const data = new OSS({ ...options, ...(settings.endpoint ? {} : { internal: settings.internal ?? false }) } as OSS.Options);
  // Inside Function Compute data goes over the internal network; signed URLs keep the public one.
  const signer = settings.endpoint || !settings.internal ? data : new OSS(options);

  return {
    async list(prefix: string): Promise<ObjectSummary[]> {
      const out: ObjectSummary[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await data.listV2({ prefix, 'max-keys': 1000, ...(token ? { 'continuation-token': token } : {}) } as OSS.ListV2ObjectsQuery, {});
          for (const o of page.objects ?? []) {
            out.push({ key: o.name, size: Number(o.size), etag: unquote(o.etag), lastModified: Date.parse(o.lastModified) });
          }
          token = page.isTruncated ? (page.nextContinuationToken ?? undefined) : undefined;
        } while (token);
      } catch (err) {
        throw mapOssError(err, `list ${prefix}`);
      }
      return out;
    },

    async listPage(prefix: string, options: { after?: string; limit: number }) {
      try {
        const page = await data.listV2({ prefix, 'max-keys': options.limit, ...(options.after ? { 'start-after': options.after } : {}) } as OSS.ListV2ObjectsQuery, {});
        const objects: ObjectSummary[] = (page.objects ?? []).map((o) => ({ key: o.name, size: Number(o.size), etag: unquote(o.etag), lastModified: Date.parse(o.lastModified) }));
        const last = objects[objects.length - 1];
        return { objects, ...(page.isTruncated && last ? { next: last.key } : {}) };
      } catch (err) {
        throw mapOssError(err, `list ${prefix}`);
      }
    },

    async copy(from: string, to: string, options: { meta?: Record<string, string> } = {}) {
      try {
        const r = await data.copy(to, from, options.meta ? ({ meta: options.meta } as unknown as OSS.CopyObjectOptions) : {});
        return { etag: unquote((r.data as { etag?: string } | undefined)?.etag ?? (r.res as unknown as { headers: Record<string, string> }).headers.etag) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw mapOssError(err, `copy ${from} to ${to}`);
      }
    },

    async head(key: string, read: ReadOptions = {}): Promise<ObjectHead | undefined> {
      try {
        const r = await data.head(key, { headers: ifMatch(read) } as OSS.HeadObjectOptions);
        const headers = (r.res as unknown as { headers: Record<string, string> }).headers;
        return {
          key,
          size: Number(headers['content-length'] ?? 0),
          etag: unquote(headers.etag),
          lastModified: Date.parse(headers['last-modified'] ?? ''),
          contentType: headers['content-type'],
          meta: { ...((r.meta ?? {}) as unknown as Record<string, string>) },
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw mapOssError(err, `head ${key}`);
      }
    },

    async getRange(key: string, start: number, end: number, read: ReadOptions = {}): Promise<Buffer | undefined> {
      try {
        const r = await data.get(key, null, { headers: { Range: `bytes=${start}-${end}`, ...ifMatch(read) } });
        const content = r.content as Buffer | undefined;
        // OSS ignores an unsatisfiable range and answers with the whole object: cut it here.
        if (content && r.res.status === 200 && content.length > end - start + 1) return content.subarray(start, end + 1);
        return content ?? Buffer.alloc(0);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        if ((err as OssError).status === 416) return Buffer.alloc(0);
        throw mapOssError(err, `get ${key}`);
      }
    },

    async imageInfo(key: string, read: ReadOptions = {}): Promise<ImageInfo> {
      try {
        const r = await data.get(key, null, { process: 'image/info', headers: ifMatch(read) });
        let raw: unknown;
        try {
          raw = JSON.parse(Buffer.from(r.content as Buffer).toString('utf8'));
        } catch {
          raw = undefined;
        }
        return parseImageInfo(raw, key);
      } catch (err) {
        if (err instanceof ObjectStoreError) throw err;
        throw mapOssError(err, `image/info ${key}`);
      }
    },

    async put(key: string, body: Buffer | Readable, options: { contentType: string; contentLength?: number }): Promise<{ etag: string }> {
      try {
        if (Buffer.isBuffer(body)) {
          // A string here would be read as a file path (storage.md §A.4): only Buffers and streams.
          const r = await data.put(key, body, { mime: options.contentType, headers: { 'Content-Type': options.contentType } } as OSS.PutObjectOptions);
          return { etag: unquote((r.res as unknown as { headers: Record<string, string> }).headers.etag) };
        }
        const r = await data.putStream(key, body, {
          mime: options.contentType,
          ...(options.contentLength !== undefined ? { contentLength: options.contentLength } : {}),
        } as unknown as OSS.PutStreamOptions);
        return { etag: unquote((r.res as unknown as { headers: Record<string, string> }).headers.etag) };
      } catch (err) {
        throw mapOssError(err, `put ${key}`);
      }
    },

    async delete(key: string): Promise<void> {
      try {
        await data.delete(key);
      } catch (err) {
        if (isNotFound(err)) return;
        throw mapOssError(err, `delete ${key}`);
      }
    },

    async presignGet(key: string, ttlSeconds: number, process?: string): Promise<string> {
      return signer.signatureUrlV4('GET', ttlSeconds, process ? { queries: { 'x-oss-process': process } } : undefined, key);
    },
  };
}
