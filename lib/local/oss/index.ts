/**
 * Loopback OSS emulator (issue 2). CONTRACT — implemented by the OSS emulator work; other modules
 * (stack, FC runner, DashScope simulator tests, pipeline tests) rely on exactly these names.
 * The implementation lives beside this file (server.ts and the modules it wires together).
 */
import type { CredentialStore } from '../credentials.js';
import { OssEmulatorServer } from './server.js';
import type { EventKeyStyle } from './triggers.js';

export { EVENT_KEY_STYLES, type EventKeyStyle } from './triggers.js';

export interface TriggerRule {
  /** Key prefix filter, like an OSS trigger rule ('' = any). */
  prefix?: string;
  /** Key suffix filter, case-sensitive like OSS ('' = any). */
  suffix?: string;
  /** Event names without the `oss:` prefix, e.g. 'ObjectCreated:PutObject'. Default: all created events. */
  events?: string[];
}

export interface OssEmulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  region?: string; // default 'oss-cn-beijing'
  bucket?: string; // default 'sketchflow-local'; more can be created with createBucket()
  credentials?: CredentialStore; // default: a new store with one generated key
  /** Disk mode: the bucket's objects are plain files under this directory. */
  dir?: string;
  /** In disk mode, turn files that appear in `dir` into ObjectCreated events. */
  watch?: boolean;
  /** Clock (epoch ms) for presigned-URL expiry, request-time skew and Last-Modified. */
  now?: () => number;
  /** Account id used in ARNs and ownerIdentity. */
  accountId?: string;
  /** Accept signature V1 (header and presigned). Default false: OSS refuses V1 for new buckets. */
  allowV1?: boolean;
  /**
   * How `oss.object.key` is written into trigger events — unconfirmed upstream (fc.md §1.1), so
   * tests run the pipeline under each: 'raw' (default, as stored), 'encoded' (percent-encoded,
   * '/' kept), 'form' (percent-encoded with '+' for a space). See lib/local/README.md.
   */
  eventKeyStyle?: EventKeyStyle;
  /** How long after the HTTP response trigger events are delivered (default 20 ms). */
  triggerDelayMs?: number;
  /** Watch mode: how long a file must stay unchanged before it is announced (default 250 ms). */
  watchStableMs?: number;
  /**
   * Allowed difference between `now()` and a header-signed request's x-oss-date (default 15 min,
   * as OSS). Tests that move the emulator clock far from real time can widen it (Infinity = off);
   * presigned-URL expiry is checked against `now()` regardless.
   */
  maxRequestSkewMs?: number;
  /** Largest accepted upload body (default 1 GiB; OSS itself allows 5 GB per PutObject). */
  maxObjectBytes?: number;
}

export interface OssRequestRecord {
  action: string; // RAM action name, e.g. 'oss:GetObject'
  bucket: string;
  key?: string;
  method: string;
  status: number; // 0 when the connection was reset or never answered (injected faults)
  accessKeyId?: string;
  presigned: boolean;
  process?: string; // x-oss-process value
  at: number;
}

/** What `peek()` shows of a stored object. */
export interface PeekedObject {
  body: Buffer;
  /** Quoted uppercase MD5 hex, as OSS's ETag header. */
  etag: string;
  contentType: string;
  /** User metadata, names without `x-oss-meta-`. */
  meta: Record<string, string>;
  lastModified: number;
}

export interface OssEmulator {
  endpoint: string; // http://127.0.0.1:PORT
  region: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  accountId: string;
  credentials: CredentialStore;
  createBucket(name: string): void;
  /** Subscribe to created-object events; the listener gets the exact FC event body. Returns unsubscribe. */
  onObjectCreated(rule: TriggerRule, listener: (event: { events: unknown[] }) => void): () => void;
  /** Every request seen, in order. */
  readonly records: OssRequestRecord[];
  /** Make the next `count` requests matching `action` (or any, if omitted) fail. */
  injectFault(fault: { action?: string; count: number; kind: 'error' | 'reset' | 'hang'; status?: number; code?: string }): void;
  close(): Promise<void>;
  /** A stored object, for test assertions (no request is recorded). */
  peek(key: string, bucket?: string): PeekedObject | undefined;
  /** Keys with the prefix, in OSS list order. */
  keys(prefix?: string, bucket?: string): string[];
  /**
   * Store an object directly (seeding); fires triggers like an upload, as `eventName`
   * (default 'ObjectCreated:PutObject'; e.g. 'ObjectCreated:CompleteMultipartUpload' to simulate one).
   */
  putObject(
    key: string,
    body: Buffer | string,
    options?: { contentType?: string; meta?: Record<string, string>; bucket?: string; eventName?: string },
  ): { etag: string };
  /** Resolves once queued trigger deliveries are handed out and no watched file is settling. */
  settled(): Promise<void>;
  /** Trigger deliveries queued (they go out after a short delay, like OSS's) plus watched files settling. */
  readonly queuedEvents: number;
}

export async function startOssEmulator(options: OssEmulatorOptions = {}): Promise<OssEmulator> {
  const server = new OssEmulatorServer(options);
  await server.listen();
  return server;
}
