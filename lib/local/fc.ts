/**
 * Runs the real handlers the way Function Compute 3.0 does, on one machine: the event as a Buffer,
 * a context with STS credentials, asynchronous invocation with FC's retry behaviour (3 retries
 * with backoff by default, then the event is dropped and reported), each invocation under its
 * timeout, a timer trigger, an EventBridge trigger (DashScope's completion events, in each shape
 * the trigger may hand them over), and the FC 3.0 InvokeFunction HTTP API (so the poller kick goes
 * through the real `@alicloud/fc20230330` client).
 * One difference stays: past its timeout an invocation counts as failed (and is retried), but its
 * promise cannot be killed in this process as FC kills the instance. The handlers stop themselves
 * well before their timeouts (POLL_BUDGET_SECONDS), so this only shows when that margin is broken.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { BodyTooLarge, readBody } from './http.js';
import type { OssEmulator, TriggerRule } from './oss/index.js';
import type { CredentialStore } from './credentials.js';

export type FcHandler = (event: Buffer, context: FcInvocationContext) => Promise<unknown>;

/**
 * How an EventBridge trigger hands a CloudEvent to the function (docs/reference/events.md: not
 * confirmed by any page, so each is offered): the CloudEvent itself, a batch (a JSON array), or
 * only its `data` (`eventSchema: RawData`), alone or batched.
 */
export const EVENT_SHAPES = ['cloudevent', 'batch', 'rawdata', 'rawdata-batch'] as const;
export type EventShape = (typeof EVENT_SHAPES)[number];

export interface EventBridgeTriggerOptions {
  shape: EventShape;
  /** The trigger's event pattern: events it does not match never reach the function. */
  matches?: (event: { source?: unknown; type?: unknown; data?: unknown }) => boolean;
  /** Batches gather the events pushed within this many ms (EventBridge's TimeBasedWindow); default 0: those of one instant. */
  batchWindowMs?: number;
}

export interface FcInvocationContext {
  requestId: string;
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken: string };
  function: { name: string; handler: string; memory: number; timeout: number };
  region: string;
  accountId: string;
}

export interface FcFunctionSpec {
  name: string;
  handler: FcHandler;
  /** Seconds, like s.yaml `timeout`. */
  timeout: number;
  memory?: number;
  /** Async retries after a failed invocation (FC default 3, `maxAsyncRetryAttempts`). */
  maxAsyncRetryAttempts?: number;
}

export interface InvocationRecord {
  requestId: string;
  fn: string;
  attempt: number;
  startedAt: number;
  endedAt?: number;
  outcome?: 'ok' | 'error' | 'timeout';
  error?: string;
  result?: unknown;
}

export interface LocalFcOptions {
  credentials: CredentialStore;
  region?: string;
  accountId?: string;
  /** Backoff before async retry n (1-based), ms. FC uses growing delays; tests shrink them. */
  retryDelayMs?: (attempt: number) => number;
  /** Called when an async event exhausts its retries (FC would send it to the failure destination). */
  onDropped?: (fn: string, event: Buffer, lastError: string) => void;
  /** Waits out a deferred invocation (`x-fc-async-delay`); a virtual clock can drive it. Default: real time. */
  deferredSleep?: (ms: number) => Promise<void>;
}

export class LocalFunctionCompute {
  readonly records: InvocationRecord[] = [];
  private readonly functions = new Map<string, FcFunctionSpec>();
  private readonly pending = new Set<Promise<void>>();
  /** The deferred invocations among `pending` while they wait out their delay. */
  private readonly waiting = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribers: Array<() => void> = [];
  private server?: http.Server;
  private closed = false;
  readonly region: string;
  readonly accountId: string;

  constructor(private readonly options: LocalFcOptions) {
    this.region = options.region ?? 'cn-beijing';
    this.accountId = options.accountId ?? '1234567890123456';
  }

  register(spec: FcFunctionSpec): void {
    this.functions.set(spec.name, spec);
  }

  /** Synchronous invocation: the caller gets the result or the error. */
  async invoke(name: string, event: Buffer, attempt = 0): Promise<unknown> {
    const spec = this.spec(name);
    const sts = this.credentialsFor(name);
    const context: FcInvocationContext = {
      requestId: randomUUID(),
      credentials: sts,
      function: { name, handler: 'index.handler', memory: spec.memory ?? 512, timeout: spec.timeout },
      region: this.region,
      accountId: this.accountId,
    };
    const record: InvocationRecord = { requestId: context.requestId, fn: name, attempt, startedAt: Date.now() };
    this.records.push(record);
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        spec.handler(event, context),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new FcTimeoutError(`Function timed out after ${spec.timeout} seconds`)), spec.timeout * 1000);
        }),
      ]);
      Object.assign(record, { outcome: 'ok', result, endedAt: Date.now() });
      return result;
    } catch (err) {
      Object.assign(record, { outcome: err instanceof FcTimeoutError ? 'timeout' : 'error', error: (err as Error)?.message ?? String(err), endedAt: Date.now() });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asynchronous invocation: queued, retried on failure or timeout, at least once. */
  invokeAsync(name: string, event: Buffer): void {
    if (this.closed) return;
    const spec = this.spec(name);
    const retries = spec.maxAsyncRetryAttempts ?? 3;
    const run = (async () => {
      let lastError = '';
      for (let attempt = 0; attempt <= retries && !this.closed; attempt++) {
        if (attempt > 0) await this.delay(this.options.retryDelayMs?.(attempt) ?? 1000 * 2 ** (attempt - 1));
        if (this.closed) return;
        try {
          await this.invoke(name, event, attempt);
          return;
        } catch (err) {
          lastError = (err as Error)?.message ?? String(err);
        }
      }
      if (!this.closed) this.options.onDropped?.(name, event, lastError);
    })();
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }

  /** An asynchronous invocation that FC holds back for `delayMs`; it counts as queued meanwhile. */
  invokeDeferred(name: string, event: Buffer, delayMs: number): void {
    if (this.closed) return;
    const wait = (this.options.deferredSleep ?? ((ms: number) => this.delay(ms)))(delayMs);
    const deferred = wait.then(() => {
      this.waiting.delete(deferred);
      this.invokeAsync(name, event);
    });
    this.pending.add(deferred);
    this.waiting.add(deferred);
    void deferred.finally(() => {
      this.pending.delete(deferred);
      this.waiting.delete(deferred);
    });
  }

  /** An OSS trigger: created objects matching `rule` invoke `fn` asynchronously. */
  connectOssTrigger(oss: OssEmulator, rule: TriggerRule, fn: string): void {
    this.unsubscribers.push(oss.onObjectCreated(rule, (event) => this.invokeAsync(fn, Buffer.from(JSON.stringify(event)))));
  }

  /**
   * An EventBridge trigger on `fn` (asynchronous invocation, `asyncInvocationType: true` in s.yaml):
   * returns the push function the event source calls with each CloudEvent.
   */
  connectEventBridgeTrigger(fn: string, options: EventBridgeTriggerOptions): (event: { source?: unknown; type?: unknown; data?: unknown }) => void {
    const raw = options.shape === 'rawdata' || options.shape === 'rawdata-batch';
    const batched = options.shape === 'batch' || options.shape === 'rawdata-batch';
    let batch: unknown[] | undefined;
    return (event) => {
      if (this.closed || (options.matches && !options.matches(event))) return;
      const element = raw ? event.data : event;
      if (!batched) return this.invokeAsync(fn, Buffer.from(JSON.stringify(element)));
      if (batch) return void batch.push(element);
      batch = [element];
      // Counted as queued from the first event on, so idle() waits for the batch to go out.
      const flush = this.delay(options.batchWindowMs ?? 0).then(() => {
        const events = batch!;
        batch = undefined;
        this.invokeAsync(fn, Buffer.from(JSON.stringify(events)));
      });
      this.pending.add(flush);
      void flush.finally(() => this.pending.delete(flush));
    };
  }

  /** A timer trigger firing every `everyMs` (asynchronously, like FC's timer). */
  startTimer(fn: string, everyMs: number, payload = 'timer'): void {
    const fire = () => {
      this.invokeAsync(fn, timerEvent(payload));
    };
    const timer = setInterval(fire, everyMs);
    this.timers.add(timer);
  }

  /**
   * The FC 3.0 InvokeFunction API on loopback: `POST /2023-03-30/functions/{name}/invocations`.
   * It checks that the request is signed by a known access key, not the whole ACS3 signature.
   */
  async serveApi(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const m = /^\/2023-03-30\/functions\/([^/?]+)\/invocations/.exec(req.url ?? '');
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-fc-request-id': randomUUID(), ...headers });
        res.end(JSON.stringify(body));
      };
      // FC's limit for a synchronous invocation's payload is 32 MB.
      readBody(req, 32 * 1024 * 1024).then((event) => {
        const auth = String(req.headers.authorization ?? '');
        const keyId = /Credential=([^,\s]+)/.exec(auth)?.[1];
        if (!keyId || !this.options.credentials.get(keyId)) return reply(403, { code: 'InvalidAccessKeyId', message: 'The access key id is not known.' });
        if (!m || req.method !== 'POST') return reply(404, { code: 'NotFound', message: 'unknown API path' });
        const name = decodeURIComponent(m[1]!);
        if (!this.functions.has(name)) return reply(404, { code: 'FunctionNotFound', message: `function ${name} does not exist` });
        if (String(req.headers['x-fc-invocation-type'] ?? '').toLowerCase() === 'async') {
          // Deferred invocation: FC starts it x-fc-async-delay seconds (0–3600) from now.
          const delay = Number(req.headers['x-fc-async-delay'] ?? 0);
          if (!Number.isFinite(delay) || delay < 0 || delay > 3600) return reply(400, { code: 'InvalidArgument', message: 'x-fc-async-delay must be 0–3600 seconds' });
          if (delay > 0) this.invokeDeferred(name, event, delay * 1000);
          else this.invokeAsync(name, event);
          return reply(202, {});
        }
        this.invoke(name, event).then(
          (result) => reply(200, result ?? null),
          (err: unknown) => reply(200, { errorMessage: (err as Error)?.message }, { 'x-fc-error-type': 'UnhandledInvocationError' }),
        );
      }, (err: unknown) => {
        // Too large: FC's answer. Otherwise the client went away mid-body: no one to answer.
        if (err instanceof BodyTooLarge) reply(400, { code: 'EntityTooLarge', message: `payload size exceeds maximum allowed size (${32 * 1024 * 1024} bytes)` });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when no asynchronous invocation is queued or running. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  get busy(): number {
    return this.pending.size;
  }

  /** Invocations queued or running, not counting deferred ones still waiting out their delay. */
  get running(): number {
    return this.pending.size - this.waiting.size;
  }

  /**
   * Resolves when nothing runs or is queued but deferred invocations waiting out their delay: a
   * resting poller's safety kick is always pending while tasks are in flight, so idle() would wait
   * for the tasks to end.
   */
  async quiet(): Promise<void> {
    while (this.running > 0) await Promise.race([Promise.allSettled([...this.pending].filter((p) => !this.waiting.has(p))), ...this.waiting]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const wake of [...this.wakeups]) wake();
    for (const u of this.unsubscribers) u();
    await Promise.allSettled([...this.pending]);
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
  }

  private readonly sts = new Map<string, FcInvocationContext['credentials'] & { renewAt: number }>();

  /** Like FC, one role session per function, renewed well before it expires (36 h). */
  private credentialsFor(name: string): FcInvocationContext['credentials'] {
    const cached = this.sts.get(name);
    if (cached && cached.renewAt > Date.now()) return { accessKeyId: cached.accessKeyId, accessKeySecret: cached.accessKeySecret, securityToken: cached.securityToken };
    const fresh = this.options.credentials.issueStsToken();
    this.sts.set(name, { ...fresh, renewAt: Date.now() + 3600_000 });
    return fresh;
  }

  private spec(name: string): FcFunctionSpec {
    const spec = this.functions.get(name);
    if (!spec) throw new Error(`no function named ${name}`);
    return spec;
  }

  private readonly wakeups = new Set<() => void>();

  /** A retry delay that close() cuts short, so closing never waits for a backoff. */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wakeups.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.timers.add(t);
      this.wakeups.add(done);
    });
  }
}

/** The event a timer trigger delivers (fc.md §1.2): whole-second UTC time, the trigger's name, its payload. */
export function timerEvent(payload = 'timer', at = Date.now()): Buffer {
  return Buffer.from(JSON.stringify({ triggerTime: new Date(at).toISOString().replace(/\.\d+Z$/, 'Z'), triggerName: 'timer', payload }));
}

export class FcTimeoutError extends Error {
  override readonly name = 'FcTimeoutError';
}
