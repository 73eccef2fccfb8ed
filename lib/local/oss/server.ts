/**
 * The emulator's HTTP side and its wiring: one loopback server, one store per bucket, triggers,
 * the disk watcher, faults and the request log. Each request: read the body, find the bucket,
 * verify the signature (which also settles the bucket when the URL does not name it), route to
 * an operation, record it, apply any injected fault, run it, and answer OSS-style.
 */
import { randomBytes, randomInt } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { CredentialStore } from '../credentials.js';
import { BodyTooLarge, readBody } from '../http.js';
import { authenticate, type AuthResult } from './auth.js';
import { headerIn, headerOut, type EmulatorEnv, type OpContext } from './context.js';
import { E, OssError } from './errors.js';
import { FaultQueue, type FaultSpec } from './faults.js';
import type { OssEmulator, OssEmulatorOptions, OssRequestRecord, PeekedObject, TriggerRule } from './index.js';
import { mimeTypeFor } from './mime.js';
import { quoteEtag } from './ops-object.js';
import { BUCKET_NAME, resolveAddressing, splitUrl, queryValue } from './request-url.js';
import { MultipartUploads } from './ops-multipart.js';
import { postObject } from './ops-post.js';
import { route, type Route } from './routes.js';
import { DiskStore } from './store-disk.js';
import { MemoryStore } from './store-memory.js';
import type { BucketStore, ObjectRecord } from './store.js';
import { TriggerHub } from './triggers.js';
import { DirWatcher } from './watcher.js';
import { errorXml } from './xml.js';

function requestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

export class OssEmulatorServer implements OssEmulator {
  endpoint = '';
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly accountId: string;
  readonly credentials: CredentialStore;
  readonly records: OssRequestRecord[] = [];

  private readonly now: () => number;
  private readonly standardRegion: string;
  private readonly buckets = new Map<string, { store: BucketStore; created: number }>();
  private readonly hub: TriggerHub;
  private readonly faults = new FaultQueue();
  private readonly multipart = new MultipartUploads();
  private readonly watcher?: DirWatcher;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly env: EmulatorEnv;
  private closed = false;

  constructor(private readonly options: OssEmulatorOptions) {
    this.now = options.now ?? Date.now;
    this.region = options.region ?? 'oss-cn-beijing';
    this.standardRegion = this.region.replace(/^oss-/, '');
    this.bucket = options.bucket ?? 'sketchflow-local';
    // 16 digits, like an Alibaba Cloud account id.
    this.accountId = options.accountId ?? `${randomInt(1e7, 1e8)}${randomInt(1e7, 1e8)}`;
    this.credentials = options.credentials ?? new CredentialStore();
    // The emulator's own key: the first long-lived key in a shared store would be a guess, so issue one.
    const key = this.credentials.issueAccessKey();
    this.accessKeyId = key.accessKeyId;
    this.accessKeySecret = key.accessKeySecret;
    if (!BUCKET_NAME.test(this.bucket)) throw new Error(`invalid bucket name '${this.bucket}'`);

    this.hub = new TriggerHub({ region: this.standardRegion, accountId: this.accountId, now: this.now, keyStyle: options.eventKeyStyle ?? 'raw', delayMs: options.triggerDelayMs ?? 20 });
    const dir = options.dir ? path.resolve(options.dir) : undefined;
    const store = dir ? new DiskStore(dir) : new MemoryStore();
    this.buckets.set(this.bucket, { store, created: this.now() });
    if (dir && options.watch && store instanceof DiskStore) {
      this.watcher = new DirWatcher(dir, store, (key, record) => this.announceWatched(key, record), options.watchStableMs ?? 250);
    }

    this.env = {
      now: this.now,
      regionId: this.region,
      accountId: this.accountId,
      store: (bucket) => this.storeOf(bucket),
      bucketCreated: (bucket) => this.buckets.get(bucket)?.created ?? this.now(),
      buckets: () => [...this.buckets.entries()].map(([name, b]) => ({ name, created: b.created })),
      emitObjectEvent: (ctx, eventName, bucket, key, record, previousSize) => {
        const input = { eventName, bucket, key, record, previousSize, requestId: ctx.requestId, sourceIp: ctx.sourceIp };
        // Triggers fire after the answer has gone out, as OSS notifications do.
        ctx.res.once('finish', () => this.hub.emit(input));
      },
    };

    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        process.stderr.write(`oss emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        if (!res.headersSent) res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.endpoint = `http://${shown}:${port}`;
    this.watcher?.start();
  }

  private storeOf(bucket: string): BucketStore {
    const b = this.buckets.get(bucket);
    if (!b) throw E.noSuchBucket(bucket);
    return b.store;
  }

  // ——— public helpers ———

  createBucket(name: string): void {
    if (!BUCKET_NAME.test(name)) throw new Error(`invalid bucket name '${name}' (3–63 of a-z, 0-9, '-')`);
    if (!this.buckets.has(name)) this.buckets.set(name, { store: new MemoryStore(), created: this.now() });
  }

  onObjectCreated(rule: TriggerRule, listener: (event: { events: unknown[] }) => void): () => void {
    return this.hub.subscribe(rule, listener);
  }

  injectFault(fault: FaultSpec): void {
    this.faults.add(fault);
  }

  peek(key: string, bucket = this.bucket): PeekedObject | undefined {
    const found = this.storeOf(bucket).read(key);
    if (!found) return undefined;
    const { record, body } = found;
    return { body, etag: quoteEtag(record.etag), contentType: record.contentType, meta: { ...record.userMeta }, lastModified: record.lastModified };
  }

  keys(prefix = '', bucket = this.bucket): string[] {
    return this.storeOf(bucket)
      .list(prefix)
      .map((e) => e.key);
  }

  putObject(
    key: string,
    body: Buffer | string,
    options: { contentType?: string; meta?: Record<string, string>; bucket?: string; eventName?: string } = {},
  ): { etag: string } {
    const bucket = options.bucket ?? this.bucket;
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const userMeta: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.meta ?? {})) userMeta[k.toLowerCase()] = v;
    const { record, previous } = this.storeOf(bucket).write(key, data, {
      contentType: options.contentType ?? mimeTypeFor(key),
      userMeta,
      headers: {},
      lastModified: this.now(),
    });
    const eventName = options.eventName ?? 'ObjectCreated:PutObject';
    this.hub.emit({ eventName, bucket, key, record, previousSize: previous?.size, requestId: requestId(), sourceIp: '127.0.0.1' });
    return { etag: quoteEtag(record.etag) };
  }

  async settled(): Promise<void> {
    await this.watcher?.settled();
    await this.hub.settled();
  }

  get queuedEvents(): number {
    return this.hub.queued + (this.watcher?.settling ?? 0);
  }

  private announceWatched(key: string, record: ObjectRecord): void {
    this.hub.emit({ eventName: 'ObjectCreated:PutObject', bucket: this.bucket, key, record, requestId: requestId(), sourceIp: '127.0.0.1' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.hub.close();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closing;
    for (const { store } of this.buckets.values()) store.close();
  }

  // ——— request handling ———

  private async readRequestBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.options.maxObjectBytes ?? 1024 ** 3;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) throw E.entityTooLarge();
    try {
      return await readBody(req, max);
    } catch (err) {
      throw err instanceof BodyTooLarge ? E.entityTooLarge() : err;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = requestId();
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = headerIn(Array.isArray(value) ? value.join(', ') : value);
    }
    let records: OssRequestRecord[] = [];
    let hostBucket = this.bucket;
    res.once('finish', () => {
      for (const r of records) r.status = res.statusCode;
    });

    try {
      const body = await this.readRequestBody(req);
      const { rawPath, query } = splitUrl(req.url ?? '/');
      const addressing = resolveAddressing(headers.host, rawPath, [...this.buckets.keys()], this.bucket);
      const unknownBucket = addressing.explicitBucket !== undefined && !this.buckets.has(addressing.explicitBucket);

      let auth: AuthResult | undefined;
      let authError: unknown;
      // A form upload (PostObject) carries its signature in the form: the operation checks it.
      const isPostObject = method === 'POST' && /^multipart\/form-data/i.test(headers['content-type'] ?? '') && addressing.candidates.some((c) => c.key === '');
      // OSS answers NoSuchBucket before looking at the signature.
      if (!unknownBucket && !isPostObject) {
        try {
          auth = authenticate(
            { method, headers, query, candidates: addressing.candidates },
            { credentials: this.credentials, region: this.standardRegion, now: this.now, allowV1: this.options.allowV1 ?? false, maxSkewMs: this.options.maxRequestSkewMs },
          );
        } catch (err) {
          authError = err;
        }
      }
      const target = auth?.target ?? (isPostObject ? addressing.candidates.find((c) => c.key === '')! : addressing.candidates[0]!);
      hostBucket = target.bucket;
      const op: Route = isPostObject
        ? {
            name: 'PostObject',
            actions: [{ action: 'oss:PutObject', bucket: target.bucket }],
            run: async (c) => {
              const done = await postObject(c, { credentials: this.credentials, region: this.standardRegion });
              for (const r of records) Object.assign(r, done);
            },
          }
        : route(method, target, query, headers, this.multipart);
      const at = this.now();
      const processParam = queryValue(query, 'x-oss-process');
      records = op.actions.map((a) => ({
        action: a.action,
        bucket: a.bucket,
        ...(a.key !== undefined ? { key: a.key } : {}),
        method,
        status: 0,
        ...(auth?.accessKeyId ? { accessKeyId: auth.accessKeyId } : {}),
        presigned: auth?.presigned ?? false,
        ...(processParam !== undefined ? { process: processParam } : {}),
        at,
      }));
      this.records.push(...records);
      if (unknownBucket) throw E.noSuchBucket(target.bucket);
      if (authError) throw authError;
      // A path-style request whose signature names a bucket that is not there.
      if (target.bucket !== '' && !this.buckets.has(target.bucket)) throw E.noSuchBucket(target.bucket);

      const fault = this.faults.take(op.actions.map((a) => a.action));
      if (fault?.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'hang') {
        // Never answered; close() ends it.
        this.hanging.add(res);
        res.once('close', () => this.hanging.delete(res));
        return;
      }
      if (fault) throw fault.error;

      const ctx: OpContext = {
        env: this.env,
        res,
        requestId: id,
        headers,
        query,
        body,
        bucket: target.bucket,
        key: target.key,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        reply: (status, extra, payload) => this.reply(res, id, status, extra, payload),
      };
      await op.run(ctx);
    } catch (err) {
      if (records.length === 0) {
        // Refused before it could be routed (malformed URL, body too large): still a request seen.
        records = [{ action: 'oss:Unknown', bucket: hostBucket, method, status: 0, presigned: false, at: this.now() }];
        this.records.push(...records);
      }
      const ossError = err instanceof OssError ? err : E.internal();
      if (!(err instanceof OssError)) process.stderr.write(`oss emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      this.sendError(res, method, id, ossError, hostBucket === '' ? `${this.region}.aliyuncs.com` : `${hostBucket}.${this.region}.aliyuncs.com`);
    }
  }

  private reply(res: ServerResponse, id: string, status: number, headers: Record<string, string | number>, body?: Buffer | string): void {
    if (res.headersSent || res.destroyed) return;
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    res.statusCode = status;
    res.setHeader('Server', 'AliyunOSS');
    res.setHeader('Date', new Date(this.now()).toUTCString());
    res.setHeader('x-oss-request-id', id);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, typeof v === 'number' ? String(v) : headerOut(v));
    if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', String(payload?.length ?? 0));
    res.end(payload);
  }

  private sendError(res: ServerResponse, method: string, id: string, err: OssError, hostId: string): void {
    const xml = errorXml(err, id, hostId);
    const headers: Record<string, string> = { 'Content-Type': 'application/xml' };
    if (err.ec) headers['x-oss-ec'] = err.ec;
    if (method === 'HEAD') {
      // HEAD answers carry no body; OSS puts the error document in x-oss-err, which ali-oss reads.
      headers['x-oss-err'] = Buffer.from(xml).toString('base64');
      return this.reply(res, id, err.status, headers);
    }
    this.reply(res, id, err.status, headers, xml);
  }
}
