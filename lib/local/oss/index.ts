/**
 * Loopback OSS emulator (issue 2). CONTRACT — implemented by the OSS emulator work; other modules
 * (stack, FC runner, DashScope simulator tests, pipeline tests) rely on exactly these names.
 */
import type { CredentialStore } from '../credentials.js';

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
}

export interface OssRequestRecord {
  action: string; // RAM action name, e.g. 'oss:GetObject'
  bucket: string;
  key?: string;
  method: string;
  status: number;
  accessKeyId?: string;
  presigned: boolean;
  process?: string; // x-oss-process value
  at: number;
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
}

export async function startOssEmulator(_options: OssEmulatorOptions = {}): Promise<OssEmulator> {
  throw new Error('OSS emulator not implemented yet');
}
