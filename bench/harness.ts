/**
 * The local pipeline as the bench runs it: the real handlers under LocalFunctionCompute, built
 * here rather than by startLocalPipeline so the bench can hand them a clock (virtual time) and
 * wrap every invocation to time it. Kicks take the production path: the `@alicloud/fc20230330`
 * client's async InvokeFunction against the runner's loopback FC 3.0 API.
 */
import { performance } from 'node:perf_hooks';
import type OSS from 'ali-oss';
import sharp from 'sharp';
import { createSubmitHandler } from '../functions/submit/index.js';
import { createPollerHandler } from '../functions/poller/index.js';
import type { Checkpoint } from '../lib/core/deps.js';
import type { Clock } from '../lib/core/ports.js';
import type { FcHandler } from '../lib/local/fc.js';
import { startLocalPipeline, type LocalPipeline, type LocalPipelineOptions } from '../lib/local/pipeline.js';
import { invocationScope, type SleepAccount } from './virtual-time.js';

export interface InvocationTiming extends SleepAccount {
  fn: 'submit' | 'poller';
  /** 'oss' for submit; the timer event's triggerName ('timer', 'kick') or 'event' (a completion event) for the poller. */
  trigger: string;
  /** Date.now() at delivery (comparable with the emulators' real timestamps). */
  startedAtMs: number;
  realStart: number;
  realEnd?: number;
  virtStart: number;
  virtEnd?: number;
  ok?: boolean;
  result?: unknown;
}

/** What FC bills for one invocation: wall time, i.e. virtual time slept plus real processing. */
export function billedMs(inv: InvocationTiming): number {
  const real = (inv.realEnd ?? performance.now()) - inv.realStart;
  const virt = (inv.virtEnd ?? inv.virtStart) - inv.virtStart;
  // Under the system clock virt already contains the real time slept.
  const processing = Math.max(0, real - inv.sleptRealMs);
  return Math.ceil(virt > 0 && inv.sleptRealMs > 0 ? virt + processing : Math.max(virt, real));
}

export interface BenchPipeline extends LocalPipeline {
  client: OSS;
  invocations: InvocationTiming[];
  /** Kicks sent through the FC API (to the poller, or to the stand-in when runKicks is false). */
  kicks: number;
  logs: string[];
  warnings: number;
  put(key: string, body: Buffer | string): Promise<void>;
}

export interface BenchPipelineOptions extends Omit<LocalPipelineOptions, 'handlers' | 'logSink' | 'checkpoint' | 'timer' | 'timerEveryMs'> {
  clock?: Clock;
  /** Kick the poller when work remains (SPEC §4). Off: POLLER_FUNCTION_NAME is left empty. */
  kick: boolean;
  /** Run kicked pollers (default true); false sends kicks to a function that does nothing. */
  runKicks?: boolean;
  /** Real ms between timer firings; omitted: no FC timer (virtual phases fire it themselves). */
  timerEveryMs?: number;
  checkpoint?: Checkpoint;
}

export async function startBenchPipeline(options: BenchPipelineOptions): Promise<BenchPipeline> {
  const invocations: InvocationTiming[] = [];
  const logs: string[] = [];
  let warnings = 0;
  const handlers: { submit?: FcHandler; poller?: FcHandler } = {};
  const now = () => (options.clock ?? { now: () => Date.now() }).now();
  const wrap =
    (fn: 'submit' | 'poller'): FcHandler =>
    (event, context) => {
      let trigger = 'oss';
      if (fn === 'poller') {
        try {
          trigger = String((JSON.parse(event.toString('utf8')) as { triggerName?: string }).triggerName ?? 'event');
        } catch {
          trigger = '?';
        }
      }
      const inv: InvocationTiming = { fn, trigger, startedAtMs: Date.now(), realStart: performance.now(), virtStart: now(), sleptRealMs: 0 };
      invocations.push(inv);
      return invocationScope.run(inv, async () => {
        try {
          const result = await handlers[fn]!(event, context);
          inv.ok = true;
          inv.result = result;
          return result;
        } catch (err) {
          inv.ok = false;
          throw err;
        } finally {
          inv.realEnd = performance.now();
          inv.virtEnd = now();
        }
      });
    };
  const p = await startLocalPipeline({
    ...options,
    timer: options.timerEveryMs !== undefined,
    ...(options.timerEveryMs !== undefined ? { timerEveryMs: options.timerEveryMs } : {}),
    retryDelayMs: options.retryDelayMs ?? (() => 5),
    handlers: { submit: wrap('submit'), poller: wrap('poller') },
    // A deferred kick (the poller's rest) waits on the same clock as everything else.
    ...(options.clock ? { deferredSleep: (ms: number) => options.clock!.sleep(ms) } : {}),
  });
  const NULL_FUNCTION = 'bench-kick-sink';
  let kicks = 0;
  p.fc.register({
    name: NULL_FUNCTION,
    handler: async () => {
      kicks++;
      return null;
    },
    timeout: 10,
  });
  const env = { ...p.env, ...(options.kick ? (options.runKicks === false ? { POLLER_FUNCTION_NAME: NULL_FUNCTION } : {}) : { POLLER_FUNCTION_NAME: '' }) };
  const runtime = {
    env,
    logSink: (line: string) => {
      if (/"level":"(warn|error)"/.test(line)) warnings++;
      logs.push(line);
      if (logs.length > 400) logs.splice(0, 200);
    },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    ...(options.decorate ? { decorate: options.decorate } : {}),
  };
  handlers.submit = createSubmitHandler(runtime) as FcHandler;
  handlers.poller = createPollerHandler(runtime) as FcHandler;

  const client = p.stack.ossClient();
  return {
    ...p,
    client,
    invocations,
    logs,
    get kicks() {
      return kicks + invocations.filter((i) => i.fn === 'poller' && i.trigger === 'kick').length;
    },
    get warnings() {
      return warnings;
    },
    async put(key, body) {
      await client.put(key, typeof body === 'string' ? Buffer.from(body) : body);
    },
  };
}

/** A hand-drawn-looking line sketch (a house and a sun), as PNG. */
export async function lineSketch(side = 512, variant = 0): Promise<Buffer> {
  const s = side;
  const sun = 0.7 + (variant % 5) * 0.04;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}">
    <rect width="100%" height="100%" fill="white"/>
    <g stroke="black" stroke-width="${Math.max(2, s / 60)}" fill="none" stroke-linecap="round">
      <rect x="${s * 0.2}" y="${s * 0.45}" width="${s * 0.45}" height="${s * 0.4}"/>
      <polyline points="${s * 0.15},${s * 0.48} ${s * 0.425},${s * 0.2} ${s * 0.7},${s * 0.48}"/>
      <circle cx="${s * sun}" cy="${s * 0.2}" r="${s * 0.08}"/>
    </g></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}
