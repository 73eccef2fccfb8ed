/**
 * The poller's core (SPEC §4 "Poller function"): one scheduler at a time (a lease row), looping
 * inside one invocation while work is in flight so results land seconds after DashScope finishes,
 * and stopping before the function's budget runs out rather than at the platform's timeout.
 */
import { asError } from '../errors.js';
import type { Config } from '../config.js';
import type { CoreDeps } from './deps.js';
import { checkpoint } from './deps.js';
import { fillSlots, type FillResult } from './dispatch.js';
import { Jobs, slotLayout } from './jobs.js';
import { reconcileExpired } from './reconcile.js';
import { sweep, type SweepReport } from './sweep.js';
import { catchUpPage, type CatchUpReport } from './catchup.js';
import { finalizeFinished, trackSlot, type Finished } from './track.js';
import { OutputsBusyError } from './finalize.js';
import type { SlotView } from './records.js';

/**
 * Extra lease time beyond the budget, so a slow last pass is not overlapped by the next timer,
 * but short enough that a poller that died is replaced by the next timer firing or so.
 */
export function leaseMarginMs(pollBudgetMs: number): number {
  return Math.min(15_000, Math.max(500, pollBudgetMs / 4));
}

/** Time kept between the loop's end and the function's timeout, for the last pass's writes. */
export const STOP_BEFORE_TIMEOUT_MS = 10_000;

/**
 * The loop's budget: POLL_BUDGET_SECONDS, but never closer than STOP_BEFORE_TIMEOUT_MS to the
 * function's own timeout (middy's "stop before the platform's timeout, not at it"), so a
 * misconfigured pair cannot get the poller killed mid-write.
 */
export function pollBudgetMs(configured: number, functionTimeoutSeconds?: number): number {
  if (!functionTimeoutSeconds) return configured;
  return Math.max(0, Math.min(configured, functionTimeoutSeconds * 1000 - STOP_BEFORE_TIMEOUT_MS));
}

/**
 * When the poller may stop and rest outside Function Compute (paid by the ms while it sleeps
 * inside), and until when: only while every busy slot holds a task DashScope has, at least one is
 * RUNNING and none can end for a while (TASK_MIN_SECONDS from when we saw it start), and nothing
 * else needs doing now. It wakes one poll interval before the earliest possible end, so results
 * still land within a poll interval of DashScope finishing.
 */
export function restUntil(
  floorMs: number,
  pollIntervalMs: number,
  slots: SlotView[],
  now: number,
  pending: { finishing: boolean; canSubmit: boolean },
): number | undefined {
  if (floorMs <= 0 || pending.finishing || pending.canSubmit) return undefined;
  const busy = slots.filter((s) => s.slot.state !== 'free');
  if (busy.length === 0 || busy.some((s) => s.slot.state !== 'inflight')) return undefined;
  const starts = busy.map((s) => s.slot.runningSince).filter((t): t is number => t !== undefined);
  if (starts.length === 0) return undefined; // a PENDING task is about to start: keep watching
  const wake = Math.min(...starts) + floorMs - pollIntervalMs;
  return wake - now >= Math.max(3 * pollIntervalMs, MIN_REST_MS) ? wake : undefined;
}

/** Resting for less than this is not worth an invocation's start-up (and kick delays are whole seconds). */
const MIN_REST_MS = 1000;
/** Observed durations needed before the poller trusts them enough to rest. */
const MIN_SAMPLES = 3;

/**
 * How long a task surely runs: the shortest recent one, less one poll interval, never above
 * TASK_MIN_SECONDS. An observed duration is at most one interval shorter than the real one (we may
 * see the start late by up to an interval, the end on time), so the floor is at most the real
 * shortest; and the wake (restUntil) is a further interval earlier, for the late-seen start.
 * Until enough tasks have been seen, 0: poll throughout (a model that got faster must not delay
 * results).
 */
export function restFloorMs(config: Pick<Config, 'taskMinMs' | 'pollIntervalMs'>, durationsMs: number[]): number {
  if (config.taskMinMs <= 0 || durationsMs.length < MIN_SAMPLES) return 0;
  return Math.max(0, Math.min(config.taskMinMs, Math.min(...durationsMs) - config.pollIntervalMs));
}

export interface PollerReport {
  ran: boolean;
  reason?: string;
  passes: number;
  freed: number;
  submitted: number;
  inFlightAtExit: number;
  /** Set when the poller stopped to rest until a task could end (see restUntil). */
  restUntil?: number;
  sweep?: SweepReport;
  catchUp?: CatchUpReport;
}

export async function runPoller(deps: CoreDeps, options: { startedAt?: number; budgetMs?: number } = {}): Promise<PollerReport> {
  const { config, clock } = deps;
  const jobs = new Jobs(deps.rows);
  const start = options.startedAt ?? clock.now();
  const budget = options.budgetMs ?? config.pollBudgetMs;
  const deadline = start + budget;
  const report: PollerReport = { ran: false, passes: 0, freed: 0, submitted: 0, inFlightAtExit: 0 };
  if (!(await jobs.acquireLease(deps.owner, clock.now(), deadline + leaseMarginMs(budget)))) {
    return { ...report, reason: 'another poller holds the lease' };
  }
  report.ran = true;
  let workLeft = false;
  /** Models the last pass found held back by the budget or an account pause: their queues wait for the timer. */
  let heldBack = new Set<string>();
  let kick = false;
  try {
    const finished: Finished = new Map();
    const floorMs = deps.kicker ? restFloorMs(config, await jobs.taskDurations()) : 0;
    const layout = slotLayout(config);
    report.sweep = await sweep(deps, jobs, await jobs.readSlots(layout), finished);
    try {
      report.catchUp = await catchUpPage(deps, jobs);
    } catch (err) {
      deps.log.warn('catch-up listing failed; the next invocation retries', { error: asError(err) });
    }
    await checkpoint(deps, 'poller:swept');
    for (;;) {
      report.passes++;
      const slots = await jobs.readSlots(layout);
      for (const s of slots) {
        if (s.slot.state !== 'inflight') continue;
        try {
          if ((await trackSlot(deps, jobs, s, finished)) === 'freed') report.freed++;
        } catch (err) {
          // One slot's trouble (a store hiccup) must not stop the others; the next pass retries.
          deps.log.warn('slot pass failed', { slot: s.index, jobKey: s.slot.jobKey, taskId: s.slot.taskId, error: asError(err) });
        }
      }
      try {
        // All expired submissions at once, against one task listing (reconcile.ts).
        report.freed += await reconcileExpired(deps, jobs, slots);
      } catch (err) {
        deps.log.warn('reconciliation failed; the next pass retries', { error: asError(err) });
      }
      await checkpoint(deps, 'poller:slots-serviced');
      let waiting = 0;
      let fill: FillResult | undefined;
      try {
        fill = await fillSlots(deps, jobs);
        heldBack = new Set(Object.entries(fill.byModel).filter(([, f]) => f.blocked === 'budget' || f.blocked === 'account').map(([m]) => m));
        report.submitted += fill.submitted;
        // Waiting on the budget or an account pause is not work to loop for: the timer comes back.
        waiting = fill.waiting;
      } catch (err) {
        deps.log.warn('filling slots failed', { error: asError(err) });
        waiting = 1;
      }
      // Copy results after refilling: DashScope is already busy with the next task meanwhile.
      for (const [jobId, { versionId, view, notBefore }] of finished) {
        if (notBefore !== undefined && notBefore > clock.now()) continue;
        try {
          await finalizeFinished(deps, jobs, jobId, versionId, view);
          finished.delete(jobId);
        } catch (err) {
          // Another writer's outputs lease: nothing to do before it ends (no kick storm meanwhile).
          const later = err instanceof OutputsBusyError ? { notBefore: err.until } : {};
          deps.log.warn('finalizing failed; will retry', { jobId, version: versionId, error: asError(err) });
          finished.set(jobId, { versionId, ...later }); // ask DashScope afresh next time
        }
      }
      const after = await jobs.readSlots(layout);
      const inFlight = after.filter((s) => s.slot.state !== 'free').length;
      report.inFlightAtExit = inFlight;
      const finishingNow = [...finished.values()].filter((f) => f.notBefore === undefined || f.notBefore <= clock.now()).length;
      const leaseWait = Math.min(...[...finished.values()].map((f) => f.notBefore ?? Infinity));
      workLeft = inFlight > 0 || waiting > 0 || finished.size > 0;
      if (!workLeft) break;
      if (inFlight === 0 && waiting === 0 && finishingNow === 0 && deps.kicker) {
        // Only versions waiting for another writer's lease: rest until it ends.
        report.restUntil = leaseWait;
        break;
      }
      if (deps.kicker) {
        // Work that could go now: a model with queued versions worth waiting for and a free slot of its own.
        const canSubmit = fill
          ? Object.entries(fill.byModel).some(([model, f]) => f.waiting > 0 && f.blocked !== 'budget' && f.blocked !== 'account' && after.some((s) => s.model === model && s.slot.state === 'free'))
          : waiting > 0;
        report.restUntil = restUntil(floorMs, config.pollIntervalMs, after, clock.now(), { finishing: finishingNow > 0, canSubmit });
        if (report.restUntil !== undefined) break;
      }
      if (deadline - clock.now() < config.pollIntervalMs) break;
      await clock.sleep(config.pollIntervalMs);
    }
  } finally {
    const wakeAt = workLeft && deps.kicker ? (report.restUntil ?? clock.now()) : undefined;
    kick = await jobs.releaseLease(deps.owner, clock.now(), wakeAt).catch((err: unknown) => {
      deps.log.warn('lease release failed', { error: asError(err) });
      return wakeAt !== undefined;
    });
  }
  // Checked after releasing the lease: a submit that saw our lease held and did not kick has
  // already written its slot or queue row, so one of us notices the other's work.
  if (!workLeft && deps.kicker) {
    const slots = await jobs.readSlots(slotLayout(config));
    // Not for a queue held back by the budget or an account pause: that would kick at once, again
    // and again, until the pause ends (the timer's probe is enough).
    kick = slots.some((s) => s.slot.state !== 'free') || (await jobs.queueNotEmpty(config.models.filter((m) => !heldBack.has(m))));
  }
  if (kick && deps.kicker) {
    const delayMs = Math.max(0, (report.restUntil ?? 0) - clock.now());
    await deps.kicker.kick(delayMs > 0 ? 'rest' : 'continuation', delayMs).catch((err: unknown) => deps.log.warn('poller kick failed', { error: asError(err) }));
  }
  return report;
}
