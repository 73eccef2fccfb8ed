/**
 * Figure 1 (and the inputs of figure 7): 50 sketches dropped at once, run to the last manifest in
 * virtual time (virtual-time.ts), with the pipeline as configured (DashScope's completion events
 * reach the poller through the local EventBridge trigger, at the task's end), again with a share
 * of those events lost (a seeded draw per event, in delivery order), and as a naive baseline — one
 * task at a time (MAX_IN_FLIGHT=1), polled only by the one-minute timer (one pass per invocation:
 * POLL_BUDGET_SECONDS below POLL_INTERVAL_SECONDS; no kick: POLLER_FUNCTION_NAME empty; no
 * events). Utilization is the busy time of DashScope's one slot (the simulator's `records.busy`)
 * over the makespan, from the drop to the end of the last task.
 */
import { manifestKey } from '../lib/contract/keys.js';
import { ManifestSchema, type Manifest } from '../lib/contract/manifest.js';
import { timerEvent } from '../lib/local/fc.js';
import type { OssRequestRecord } from '../lib/local/oss/index.js';
import type { TablestoreRequestRecord } from '../lib/local/tablestore/index.js';
import { POLLER_FUNCTION } from '../lib/local/pipeline.js';
import { renderResult, type RenderInput } from '../lib/local/dashscope/renderer.js';
import { hash32, seededRandom } from '../lib/local/dashscope/random.js';
import { matchesEventRule } from '../lib/events/dashscope.js';
import { lineSketch, percentile, startBenchPipeline, type InvocationTiming } from './harness.js';
import { meteredRows, newMeter, type CuMeter } from './metering.js';
import { quiescent, runVirtual, VirtualClock } from './virtual-time.js';

export interface BacklogOptions {
  jobs: number;
  /** Mean simulated DashScope task time, seconds (±25 % jitter, seeded). */
  taskSeconds: number;
  seed?: number;
  /** Share of the completion events lost on their way (0–1; default 0). */
  lostEventShare?: number;
}

/** What a run leaves behind for the figures: its own summary and the raw records for the cost. */
export interface BacklogRun {
  variant: 'ours' | 'naive';
  settings: Record<string, string>;
  jobs: number;
  images: number;
  utilization: number;
  makespanS: number;
  busyS: number;
  /** Idle gaps of the slot between the first start and the last end, simulated seconds. */
  largestGapS: number;
  /** DashScope task end → manifest written, virtual seconds (scheduling wait only). */
  resultWaitS: { p50: number; p95: number; max: number };
  /** Completion events the trigger delivered, and those lost on purpose (lostEventShare). */
  events: { delivered: number; lost: number };
  /** The 2 submits/s and 20 queries/s limits, checked in simulated time. */
  maxCreatesPerSimSecond: number;
  maxQueriesPerSimSecond: number;
  maxInFlight: number;
  virtualSteps: number;
  realSeconds: number;
  invocations: InvocationTiming[];
  kicks: number;
  warnings: number;
  tablestore: TablestoreRequestRecord[];
  /** Capacity units by the service's 4 KB rule, from the rows the functions read and wrote. */
  tablestoreCu: CuMeter;
  oss: OssRequestRecord[];
  /** Bytes of every object read by presigned URL (DashScope) or through image processing. */
  objectBytes: Map<string, number>;
}

/**
 * DashScope's drawing is DashScope's time, not ours: the simulator renders a result image on its
 * first download, in this process, where it would be billed as the poller's. The first image is
 * rendered for real (a 768×768 PNG of the usual size) and every later download gets its bytes.
 */
function renderOnce(): (input: RenderInput) => Promise<Buffer> {
  let first: Promise<Buffer> | undefined;
  return (input) => (first ??= renderResult(input));
}

/** Most events of `times` (ms) inside any window of `windowMs`. */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

export async function runBacklog(variant: 'ours' | 'naive', o: BacklogOptions): Promise<BacklogRun> {
  const realStart = Date.now();
  const v0 = Math.floor(Date.now() / 1000) * 1000;
  const clock = new VirtualClock(v0);
  const meter = newMeter();
  const settings: Record<string, string> =
    variant === 'ours'
      ? { MAX_IN_FLIGHT: '2', POLL_INTERVAL_SECONDS: '2', POLL_BUDGET_SECONDS: '50', TASK_EVENTS: 'on', EVENT_SAFETY_SECONDS: '30', kick: 'yes', lostEvents: `${Math.round((o.lostEventShare ?? 0) * 100)} %` }
      : { MAX_IN_FLIGHT: '1', POLL_INTERVAL_SECONDS: '2', POLL_BUDGET_SECONDS: '1', TASK_EVENTS: 'off', kick: 'no (POLLER_FUNCTION_NAME empty)' };
  const events = { delivered: 0, lost: 0 };
  const lose = seededRandom(hash32('lost events', o.seed ?? 11));
  const p = await startBenchPipeline({
    clock,
    kick: variant === 'ours',
    decorate: { rows: (rows) => meteredRows(rows, meter) },
    // Frozen: the simulator's clock moves only by advance(), in step with the virtual clock.
    timeScale: 1e6,
    taskSeconds: o.taskSeconds,
    // Real-time rate windows mean nothing in virtual time: the limits are checked in simulated
    // time afterwards (maxCreatesPerSimSecond, maxQueriesPerSimSecond).
    dashscope: { seed: o.seed ?? 11, startTime: v0, rateWindowMs: 1, renderResult: renderOnce() },
    oss: { triggerDelayMs: 1 },
    env: { LOG_LEVEL: 'info', ...Object.fromEntries(Object.entries(settings).filter(([k]) => /^[A-Z_]+$/.test(k))) },
    // The deployed trigger's filter, and the share of events lost on the way.
    events:
      variant === 'ours'
        ? {
            shape: 'cloudevent',
            matches: (e) => {
              if (!matchesEventRule(e)) return false;
              if (lose() < (o.lostEventShare ?? 0)) return (events.lost++, false);
              return (events.delivered++, true);
            },
          }
        : false,
  });
  const sim = p.stack.dashscope;
  const world = { clock, fc: p.fc, oss: p.stack.oss, sim };
  try {
    const tsStart = p.stack.tablestore.records.length;
    const ossStart = p.stack.oss.records.length;
    const names = Array.from({ length: o.jobs }, (_, i) => `sketches/backlog/s${String(i).padStart(3, '0')}`);
    const sketches = await Promise.all(names.map((_, i) => lineSketch(512, i)));
    // All at the same virtual instant ("dropped at once"), each event handled before the next
    // upload so every submit invocation's real duration is its own, as on its own FC instance.
    const realDeadline = Date.now() + 120_000;
    for (const [i, n] of names.entries()) {
      await p.put(`${n}.json`, JSON.stringify({ prompt: `a house and the sun, number ${i}` }));
      await quiescent(world, realDeadline);
      await p.put(`${n}.png`, sketches[i]!);
      await quiescent(world, realDeadline);
    }
    const manifests = new Map<string, Manifest>();
    const done = () => {
      for (const n of names) {
        if (manifests.has(n)) continue;
        const obj = p.stack.oss.peek(manifestKey(n));
        if (!obj) return false;
        manifests.set(n, ManifestSchema.parse(JSON.parse(obj.body.toString('utf8'))));
      }
      return p.fc.busy === 0;
    };
    const { steps } = await runVirtual(world, {
      done,
      timer: { everyMs: 60_000, next: v0 + 60_000, fire: (at) => p.fc.invokeAsync(POLLER_FUNCTION, timerEvent('timer', at)) },
      maxVirtualMs: (o.jobs * o.taskSeconds * 1.25 + 120) * 1000 * (variant === 'ours' ? 2 : 4),
      realTimeoutMs: 150_000,
    });
    const failed = [...manifests.entries()].filter(([, m]) => m.status !== 'SUCCEEDED');
    if (failed.length > 0) throw new Error(`${variant}: ${failed.length} job(s) did not succeed: ${failed[0]![0]} ${JSON.stringify(failed[0]![1].error)}`);

    const busy = sim.records.busy.filter((b) => b.apiKeyId === sim.apiKeyId && b.end !== undefined).sort((a, b) => a.start - b.start);
    const busyMs = busy.reduce((s, b) => s + (b.end! - b.start), 0);
    const lastEnd = Math.max(...busy.map((b) => b.end!));
    let largestGap = 0;
    for (let i = 1; i < busy.length; i++) largestGap = Math.max(largestGap, busy[i]!.start - busy[i - 1]!.end!);
    const endOf = new Map(busy.map((b) => [b.taskId, b.end!]));
    const waits = [...manifests.values()].map((m) => (Date.parse(m.finishedAt) - endOf.get(m.task!.id!)!) / 1000);
    const objectBytes = new Map<string, number>();
    for (const r of p.stack.oss.records.slice(ossStart)) {
      if ((r.presigned || r.process) && r.key && !objectBytes.has(r.key)) objectBytes.set(r.key, p.stack.oss.peek(r.key)?.body.length ?? 0);
    }
    return {
      variant,
      settings,
      jobs: o.jobs,
      images: sim.records.imageCount,
      utilization: busyMs / (lastEnd - v0),
      makespanS: (lastEnd - v0) / 1000,
      busyS: busyMs / 1000,
      largestGapS: largestGap / 1000,
      resultWaitS: { p50: percentile(waits, 50), p95: percentile(waits, 95), max: Math.max(...waits) },
      events,
      maxCreatesPerSimSecond: maxInWindow(sim.records.creates.filter((c) => c.status === 200).map((c) => c.at), 1000),
      maxQueriesPerSimSecond: maxInWindow(sim.records.queries.map((q) => q.at), 1000),
      maxInFlight: sim.records.maxInFlight[sim.apiKeyId] ?? 0,
      virtualSteps: steps,
      realSeconds: (Date.now() - realStart) / 1000,
      invocations: [...p.invocations],
      kicks: p.kicks,
      warnings: p.warnings,
      tablestore: p.stack.tablestore.records.slice(tsStart),
      tablestoreCu: { ...meter },
      oss: p.stack.oss.records.slice(ossStart),
      objectBytes,
    };
  } finally {
    await p.close();
  }
}
