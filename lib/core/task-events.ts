/**
 * "A task finished" (SPEC §4 "Completion events"): DashScope's event for one of our models reaches
 * the poller function, which finalizes the task at once instead of polling for it. The event says
 * only which task ended, and may be lost, duplicated, late, out of order, for a task we never
 * created, or ahead of the create's reply; so it decides nothing itself. The slots decide: only a
 * task an in-flight slot holds is followed, by the same task query and finalization as the
 * poller's (track.ts `trackSlot`, `finalizeFinished`). An event for any other task costs one read
 * of the slots and nothing else.
 *
 * No scheduler lease is taken: every step is a conditional write that the poller (or another
 * event) may race, exactly as a submit's refill may. What needs the scheduler — reconciling a
 * create whose outcome is unknown, retrying a failed copy — is left to a poller, kicked when so.
 */
import { asError } from '../errors.js';
import type { TaskFinished } from '../events/dashscope.js';
import { checkpoint, type CoreDeps } from './deps.js';
import { canSubmitNow, fillSlots, type FillResult } from './dispatch.js';
import { Jobs, slotLayout } from './jobs.js';
import type { SlotView } from './records.js';
import { finalizeFinished, trackSlot, type Finished } from './track.js';

export interface TaskEventReport {
  /** Distinct task ids among the events. */
  tasks: number;
  /** Of those, the ones an in-flight slot held (followed). */
  followed: string[];
  /** Tasks no slot holds: unknown, a duplicate, a late or out-of-order event already served. */
  unknown: string[];
  /** The event came while a create was still being recorded: waited for its slot (ms). */
  waitedMs?: number;
  freed: number;
  submitted: number;
  finalized: number;
  /** Why a poller was kicked, if one was. */
  kicked?: string;
}

const holds = (s: SlotView, taskId: string) => s.slot.state === 'inflight' && s.slot.taskId === taskId;
const recording = (s: SlotView, now: number) => s.slot.state === 'submitting' && (s.slot.leaseUntil ?? 0) > now;
/**
 * How long an early event waits for a create's reply to be recorded (it normally takes
 * milliseconds); past it, a poller is kicked, which follows the slot however long it takes.
 */
export const EARLY_EVENT_WAIT_MS = 3000;

export async function onTaskFinished(deps: CoreDeps, events: TaskFinished[]): Promise<TaskEventReport> {
  const { config, clock } = deps;
  const jobs = new Jobs(deps.rows);
  const ids = [...new Set(events.map((e) => e.taskId))];
  const report: TaskEventReport = { tasks: ids.length, followed: [], unknown: [], freed: 0, submitted: 0, finalized: 0 };
  if (ids.length === 0) return report;

  let slots = await jobs.readSlots(slotLayout(config));
  const started = clock.now();
  // An early event: the create of its task has returned but its slot is not recorded yet. Wait for
  // the slot (never past its lease: a holder that died is reconciliation's, kicked below).
  while (ids.some((id) => !slots.some((s) => holds(s, id))) && slots.some((s) => recording(s, clock.now())) && clock.now() - started < EARLY_EVENT_WAIT_MS) {
    await clock.sleep(config.pollIntervalMs);
    slots = await jobs.readSlots(slotLayout(config));
  }
  if (clock.now() > started) report.waitedMs = clock.now() - started;
  report.followed = ids.filter((id) => slots.some((s) => holds(s, id)));
  report.unknown = ids.filter((id) => !report.followed.includes(id));
  if (report.followed.length === 0) {
    // Nothing of ours ended, or a create is still being recorded (or its holder died): a poller follows it.
    if (slots.some((s) => s.slot.state === 'submitting')) report.kicked = await kick(deps, 'event: a submission still being recorded');
    return report;
  }

  // Every in-flight slot is looked at, the events' first: another task's lost event is found here.
  const finished: Finished = new Map();
  const inflight = slots.filter((s) => s.slot.state === 'inflight').sort((a, b) => Number(!report.followed.includes(b.slot.taskId!)) - Number(!report.followed.includes(a.slot.taskId!)));
  for (const s of inflight) {
    try {
      if ((await trackSlot(deps, jobs, s, finished)) === 'freed') report.freed++;
    } catch (err) {
      deps.log.warn('slot pass failed', { slot: s.index, jobKey: s.slot.jobKey, taskId: s.slot.taskId, error: asError(err) });
    }
  }
  await checkpoint(deps, 'events:slots-tracked');
  let fill: FillResult | undefined;
  if (report.freed > 0) {
    try {
      fill = await fillSlots(deps, jobs);
      report.submitted = fill.submitted;
    } catch (err) {
      deps.log.warn('filling slots failed', { error: asError(err) });
    }
  }
  // Copy results after refilling, as the poller does: DashScope is busy with the next task meanwhile.
  for (const [jobId, { versionId, view }] of finished) {
    try {
      await finalizeFinished(deps, jobs, jobId, versionId, view);
      report.finalized++;
    } catch (err) {
      // The version stays FINALIZING: the timer's sweep takes it up once no invocation can still be at it.
      deps.log.warn('finalizing failed; the sweep retries', { jobId, version: versionId, error: asError(err) });
    }
  }

  const after = await jobs.readSlots(slotLayout(config));
  if (after.some((s) => s.slot.state === 'submitting') || canSubmitNow(fill, after)) {
    // Work for the scheduler now: a create to reconcile, a refill backing off.
    report.kicked = await kick(deps, 'event: work for the scheduler');
  } else if (after.some((s) => report.followed.includes(s.slot.taskId ?? '') && s.slot.state === 'inflight')) {
    // DashScope still answers that the task runs (its status lags the event): look again shortly.
    report.kicked = await kick(deps, 'event: the task has not ended yet', Math.max(1000, config.pollIntervalMs));
  } else if (after.some((s) => s.slot.state !== 'free') && !(await jobs.pollerScheduled(clock.now()))) {
    // Tasks in flight and no poller running or due: one starts the safety net (its rest's kick).
    report.kicked = await kick(deps, 'event: no poller scheduled');
  }
  return report;
}

async function kick(deps: CoreDeps, reason: string, delayMs = 0): Promise<string | undefined> {
  if (!deps.kicker) return undefined;
  try {
    await deps.kicker.kick(reason, delayMs);
    return reason;
  } catch (err) {
    deps.log.warn('poller kick failed', { error: asError(err) });
    return undefined;
  }
}
