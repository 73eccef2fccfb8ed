/**
 * The small interfaces the core talks to. Adapters (lib/adapters) implement them over the real
 * SDKs; unit tests use in-memory versions with the same semantics (test/helpers).
 */
import type { Readable } from 'node:stream';
import type { ImageInfo } from '../contract/image-check.js';
import type { ModelParameters } from '../models/index.js';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * A signal that aborts `ms` from now on this clock (a call's deadline). Unlike sleep, nobody
   * waits on it: `clear()` when the guarded call ends.
   */
  deadline(ms: number): { signal: AbortSignal; clear(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  deadline(ms) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`deadline of ${ms} ms passed`)), Math.max(0, ms));
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  },
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

// ---------------------------------------------------------------- OSS

export interface ObjectSummary {
  key: string;
  size: number;
  /** Without quotes, as in trigger events. */
  etag: string;
  lastModified: number;
}

export interface ObjectHead extends ObjectSummary {
  contentType?: string;
  /** User metadata, keys without `x-oss-meta-`, lower case. */
  meta: Record<string, string>;
}

export interface ReadOptions {
  /** The ETag (unquoted) the object must still have. */
  ifMatch?: string;
}

export interface ObjectStore {
  /** Every object under `prefix` (paged internally). */
  list(prefix: string): Promise<ObjectSummary[]>;
  /** One page of the objects under `prefix` in key order, after `after`; `next` when there are more. */
  listPage(prefix: string, options: { after?: string; limit: number }): Promise<{ objects: ObjectSummary[]; next?: string }>;
  /** A server-side copy (no bytes through the function); `undefined` when the source is missing. */
  copy(from: string, to: string, options?: { meta?: Record<string, string> }): Promise<{ etag: string } | undefined>;
  /**
   * `undefined` when the object does not exist. With `ifMatch` (an ETag), reads of an object that
   * changed since throw ObjectStoreError 412 `PreconditionFailed` (reads of one upload, pinned).
   */
  head(key: string, options?: ReadOptions): Promise<ObjectHead | undefined>;
  /** Bytes [start, end] inclusive; fewer if the object is shorter. `undefined` if missing. */
  getRange(key: string, start: number, end: number, options?: ReadOptions): Promise<Buffer | undefined>;
  /** OSS `image/info`; throws ObjectStoreError when OSS cannot read it as an image. */
  imageInfo(key: string, options?: ReadOptions): Promise<ImageInfo>;
  put(key: string, body: Buffer | Readable, options: { contentType: string; contentLength?: number }): Promise<{ etag: string }>;
  delete(key: string): Promise<void>;
  /** A V4 presigned GET URL, optionally with image processing applied by OSS. */
  presignGet(key: string, ttlSeconds: number, process?: string): Promise<string>;
}

// ---------------------------------------------------------------- Tablestore

export type Expect = { absent: true } | { rev: number } | 'any';

export interface StoredRow<T> {
  id: string;
  value: T;
  /** Optimistic-lock revision, bumped by every put. */
  rev: number;
}

/**
 * A table of JSON rows keyed by (kind, id), with conditional writes. `put` and `delete` with an
 * expectation throw ConditionFailedError when another writer got there first.
 */
export interface RowStore {
  get<T>(kind: string, id: string): Promise<StoredRow<T> | undefined>;
  getMany<T>(kind: string, ids: string[]): Promise<Map<string, StoredRow<T>>>;
  put<T>(kind: string, id: string, value: T, expect: Expect): Promise<number>;
  delete(kind: string, id: string, expect?: Expect): Promise<void>;
  /** Rows of one kind in id order, starting at `from` (inclusive). */
  scan<T>(kind: string, options?: { from?: string; limit?: number }): Promise<{ rows: Array<StoredRow<T>>; next?: string }>;
}

// ---------------------------------------------------------------- DashScope

export interface CreateTaskInput {
  /** A known model (lib/models): its spec builds the body. */
  model: string;
  prompt: string;
  sketchUrl: string;
  parameters: ModelParameters;
  /** Only for `oss://` temporary-upload URLs (local mode with the real model). */
  ossResourceResolve?: boolean;
}

export type TaskStatus = 'PENDING' | 'RUNNING' | 'SUSPENDED' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'UNKNOWN';

export interface TaskView {
  taskId: string;
  /** As DashScope wrote it: lifecycle/replies.ts decides what a value outside TaskStatus means. */
  status: TaskStatus | (string & {});
  results: Array<{ url: string } | { code: string; message: string }>;
  imageCount: number;
  code?: string;
  message?: string;
  submitTime?: string;
  scheduledTime?: string;
  endTime?: string;
}

export interface TaskSummary {
  taskId: string;
  status: string;
  /** The model the task runs (`model_name`), when the service says. */
  model?: string;
  /** Epoch ms, when the service says. */
  createdAt?: number;
}

export interface ImageModel {
  /**
   * `signal` aborts the call (the submit lease's deadline): it then rejects with a TransportError
   * whose `sent` is true, since DashScope may have created the task before the abort.
   */
  createTask(input: CreateTaskInput, options?: { signal?: AbortSignal }): Promise<{ taskId: string }>;
  getTask(taskId: string): Promise<TaskView>;
  /** True if canceled; false if the task was no longer PENDING. */
  cancelTask(taskId: string): Promise<boolean>;
  /** The account's tasks that are PENDING or RUNNING now. */
  listLiveTasks(): Promise<TaskSummary[]>;
  /** Streams a result image; throws ResultDownloadError. */
  downloadResult(url: string): Promise<{ body: Readable; contentLength?: number }>;
}

/** Asks Function Compute to run the poller (asynchronously), now or after `delayMs`. */
export interface PollerKicker {
  kick(reason: string, delayMs?: number): Promise<void>;
}
