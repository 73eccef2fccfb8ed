/**
 * The poller's core (SPEC §4 "Poller function"): one scheduler at a time (a lease row), looping
 * inside one invocation while there is work to poll for, resting while DashScope's completion
 * events can finish the work instead (rest.ts), and stopping before the function's budget runs out
 * rather than at the platform's timeout.
 */
import { asError } from '../errors.js';
import type { Config } from '../config.js';
import type { CoreDeps } from './deps.js';
import { checkpoint } from './deps.js';
import { canSubmitNow, fillSlots, type FillResult } from './dispatch.js';
import { Jobs, slotLayout } from './jobs.js';
import { reconcileExpired } from './reconcile.js';
import { sweep, type SweepReport } from './sweep.js';
import { catchUpPage, type CatchUpReport } from './catchup.js';
import { finalizeFinished, trackSlot, type Finished } from './track.js';
import { OutputsBusyError } from './finalize.js';
import { nextStep, restWakeAt, slotTaskKey } from './rest.js';
import { leaseMarginMs } from './lease.js';
import type { StoredRow } from './ports.js';
import type { JobRecord } from './records.js';

export { leaseMarginMs } from './lease.js';

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

export interface PollerReport {
  ran: boolean;
  reason?: string;
  passes: number;
  freed: number;
  submitted: number;
  inFlightAtExit: number;
  /** Set when the poller stopped to rest on the completion events: its safety kick's time (rest.ts). */
  restUntil?: number;
  sweep?: SweepReport;
  catchUp?: CatchUpReport;
}

export interface PollerOptions {
  startedAt?: number;
  budgetMs?: number;
  /**
   * Sweep the active jobs and read a page of the bucket (default true). The handler does it for
   * the timer only: kicks and rests come far more often, and the sweep reads every active job.
   */
  sweep?: boolean;
}

export async function runPoller(deps: CoreDeps, options: PollerOptions = {}): Promise<PollerReport> {
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
    const layout = slotLayout(config);
    if (options.sweep !== false) {
      const seen = new Map<string, StoredRow<JobRecord>>();
      report.sweep = await sweep(deps, jobs, await jobs.readSlots(layout), finished, seen);
      try {
        report.catchUp = await catchUpPage(deps, jobs, undefined, seen);
      } catch (err) {
        deps.log.warn('catch-up listing failed; the next invocation retries', { error: asError(err) });
      }
    }
    await checkpoint(deps, 'poller:swept');
    for (;;) {
      report.passes++;
      const slots = await jobs.readSlots(layout);
      const tracked = new Set<string>();
      for (const s of slots) {
        if (s.slot.state !== 'inflight') continue;
        tracked.add(slotTaskKey(s));
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
      // Work that could go now: a model with queued versions worth waiting for and a free slot of its own.
      const canSubmit = fill ? canSubmitNow(fill, after) : waiting > 0;
      const step = await nextStep(deps, jobs, after, { tracked, finished, finishing: finishingNow > 0, canSubmit });
      if (step === 'again' && deadline > clock.now()) continue;
      if (step === 'rest') {
        // The safety kick, or the end of another writer's outputs lease if that comes first.
        report.restUntil = Math.min(restWakeAt(clock.now(), config), leaseWait);
        break;
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
    // A rest's kick must not come before the wake recorded in the lease (kick delays are whole
    // seconds, rounded down): rounded up here, or the early kick would find the wake still due
    // and ask for none, and the chain would stop.
    const delayMs = report.restUntil === undefined ? 0 : Math.max(1000, Math.ceil((report.restUntil - clock.now()) / 1000) * 1000);
    await deps.kicker.kick(delayMs > 0 ? 'rest' : 'continuation', delayMs).catch((err: unknown) => deps.log.warn('poller kick failed', { error: asError(err) }));
  }
  return report;
}
