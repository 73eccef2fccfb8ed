/** Wires the simulator's parts together and exposes them as the DashScopeSimulator contract. */
import { ApiKeys, apiKeyIdOf, generateApiKey } from './auth.js';
import { SimClock } from './clock.js';
import { catalogued } from './errors.js';
import { EventBus } from './events.js';
import { FaultBook, faultSpecSchema, type ParsedFault } from './faults.js';
import { MODEL_SPECS, specFor } from './models/index.js';
import type { DashScopeSimulator, DashScopeSimulatorOptions, TaskSnapshot } from './index.js';
import { seededRandom } from './random.js';
import { RateLimiter } from './rate-limiter.js';
import { Records } from './records.js';
import { ResultImages } from './results.js';
import { startServer } from './server.js';
import { SketchFetcher } from './sketch.js';
import { SwitchBoard } from './switches.js';
import { TaskEngine } from './tasks.js';
import { TemporaryUploads } from './uploads.js';

const HOUR = 3600_000;

/** `promise`, or after `ms` real milliseconds, whichever is first (a safety net, never an expected path). */
function holdUntil(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}

export async function createSimulator(o: DashScopeSimulatorOptions): Promise<DashScopeSimulator> {
  const keys = o.apiKeys && o.apiKeys.length > 0 ? [...o.apiKeys] : [generateApiKey()];
  const apiKeys = new ApiKeys(keys);
  const clock = new SimClock(o.startTime ?? Date.now(), o.timeScale ?? 1);
  const records = new Records();
  const faults = new FaultBook();
  const switches = new SwitchBoard(o.unconfirmed);
  const rng = seededRandom(o.seed ?? 1);
  const taskMs = (o.taskSeconds ?? 20) * 1000;
  const jitter = o.jitter ?? 0.25;
  let origin = '';

  const uploads = new TemporaryUploads(
    { policyTtlSeconds: o.policyTtlSeconds ?? 300, fileTtlMs: o.uploadTtlMs ?? 48 * HOUR, maxFileSizeMb: 100 },
    () => origin,
    () => clock.now(),
    records,
  );
  const fetcher = new SketchFetcher({ timeoutMs: o.fetchTimeoutMs ?? 10_000, maxBytes: 10 * 1024 * 1024 }, uploads);
  // Per-model limits: the spec's, then `modelLimits`, then a global `submitsPerSecond` (tests raise it).
  const limitsOf = (model: string) => {
    const own = o.modelLimits?.[model] ?? {};
    const spec = specFor(model).limits;
    return {
      submitsPerSecond: o.submitsPerSecond ?? own.submitsPerSecond ?? spec.submitsPerSecond,
      concurrency: own.concurrency ?? spec.concurrency,
    };
  };
  const events = new EventBus(o.events ?? {}, clock, records, (taskId) => faults.takeEventFault(taskId));
  // Declared before the engine: the engine signs URLs with it, it reads sketches from the engine.
  let engine: TaskEngine | undefined;
  const results = new ResultImages(
    () => origin,
    () => clock.now(),
    (taskId, index) => {
      const found = engine?.image(taskId, index);
      if (!found) return undefined;
      const t = found.task;
      const r = t.request;
      return {
        sketch: found.sketch,
        style: r.style,
        index: index - 1,
        sketchWeight: r.sketchWeight,
        sketchExtraction: r.sketchExtraction,
        sketchColor: r.sketchColor,
        width: t.width,
        height: t.height,
        look: specFor(r.model).look,
      };
    },
    records,
    o.renderResult,
  );
  engine = new TaskEngine({
    clock,
    records,
    fetcher,
    faults,
    options: {
      downloadFailMs: o.downloadFailMs ?? 1000,
      resultUrlTtlMs: o.resultUrlTtlMs ?? 24 * HOUR,
      retentionMs: o.retentionMs ?? 24 * HOUR,
      taskTimeoutMs: o.taskTimeoutMs ?? 3 * HOUR,
    },
    spec: specFor,
    concurrency: (model) => limitsOf(model).concurrency,
    resultUrl: (taskId, index, expiresAt) => results.url(taskId, index, expiresAt),
    onPurge: (taskId) => results.forget(taskId),
    onEnd: (task, at) => events.publish(task, at),
  });
  const tasks = engine;

  const inject = (spec: ParsedFault): boolean => {
    if (spec.type === 'failTask' && spec.taskId !== undefined) {
      const c = catalogued(spec.code, { message: spec.message });
      return tasks.failById(spec.taskId, { code: c.code, message: c.message });
    }
    if (spec.type === 'loseTask' && spec.taskId !== undefined) return tasks.loseById(spec.taskId);
    if (spec.type === 'strayEvent') {
      events.stray(spec.taskId, spec.status, spec.model);
      return true;
    }
    if (spec.type === 'switches') {
      switches.set(spec.set);
      return true;
    }
    faults.add(spec);
    return true;
  };

  function clearFaults(): void {
    faults.clear();
    switches.reset();
  }

  const server = await startServer(
    {
      api: {
        keys: apiKeys,
        limiter: new RateLimiter(o.rateWindowMs ?? 1000),
        faults,
        switches,
        engine: tasks,
        records,
        uploads,
        clock,
        limits: {
          submitsPerSecond: (model: string) => limitsOf(model).submitsPerSecond,
          queriesPerSecond: o.queriesPerSecond ?? 20,
          uploadPoliciesPerSecond: o.uploadPoliciesPerSecond ?? 100,
        },
        models: o.models ?? MODEL_SPECS.map((m) => m.name),
        nextDuration: (model: string) => Math.max(0, Math.round((o.modelTaskSeconds?.[model] !== undefined ? o.modelTaskSeconds[model]! * 1000 : taskMs) * (1 + (rng() * 2 - 1) * jitter))),
        eventSent: (taskId) => holdUntil(events.whenSent(taskId), o.events?.earlyHoldMs ?? 30_000),
      },
      admin: {
        records,
        now: () => clock.now(),
        advance: (ms) => clock.advance(ms),
        inject,
        clearFaults,
      },
      results,
      uploads,
      faults,
      records,
      now: () => clock.now(),
    },
    o.host ?? '127.0.0.1',
    o.port ?? 0,
  );
  origin = server.origin;

  const injectSpec = (spec: unknown) => inject(faultSpecSchema.parse(spec));
  let closed = false;
  return {
    baseUrl: `${origin}/api/v1`,
    apiKey: keys[0]!,
    apiKeyId: apiKeyIdOf(keys[0]!),
    apiKeys: keys,
    origin,
    now: () => clock.now(),
    advance: (ms) => clock.advance(ms),
    records,
    flush: async () => {
      await tasks.flush();
      await events.flush();
    },
    task: (id) => {
      const t = tasks.snapshot(id);
      if (!t) return undefined;
      const snap: TaskSnapshot = {
        id: t.id,
        apiKeyId: t.apiKeyId,
        status: t.status,
        submitAt: t.submitAt,
        scheduledAt: t.scheduledAt,
        endAt: t.endAt,
        duration: t.duration,
        code: t.code,
        message: t.message,
        imageCount: t.imageCount,
        request: t.request,
      };
      return snap;
    },
    inject: injectSpec,
    failNextCreates: (count, code, opts = {}) => void injectSpec({ type: 'failCreates', count, code, ...opts }),
    failNextRequests: (kind, count, code, opts = {}) => void injectSpec({ type: 'failRequests', kind, count, code, ...opts }),
    hangNext: (kind, count = 1, when = 'before') => void injectSpec({ type: 'hang', kind, count, when }),
    resetNext: (kind, count = 1, when = 'before') => void injectSpec({ type: 'reset', kind, count, when }),
    slow: (kind, ms, count) => void injectSpec({ type: 'slow', kind, ms, count }),
    failTask: (code, opts = {}) => injectSpec({ type: 'failTask', code, ...opts }),
    partialFailure: (failed, opts = {}) => void injectSpec({ type: 'partial', failed, ...opts }),
    loseTask: (taskId) => injectSpec({ type: 'loseTask', taskId }),
    gateway: (kind, opts = {}) => void injectSpec({ type: 'gateway', kind, ...opts }),
    queryStatus: (status, opts = {}) => void injectSpec({ type: 'queryStatus', status, ...opts }),
    account: (problem, opts = {}) => void injectSpec({ type: 'account', problem, ...opts }),
    setSwitches: (set) => void injectSpec({ type: 'switches', set }),
    eventFault: (fault, opts = {}) => void injectSpec({ type: 'event', fault, ...opts }),
    strayEvent: (opts = {}) => void injectSpec({ type: 'strayEvent', ...opts }),
    switches: () => switches.get(),
    clearFaults,
    close: async () => {
      if (closed) return;
      closed = true;
      clock.close();
      await Promise.allSettled([server.close(), fetcher.close(), events.close()]);
    },
  };
}
