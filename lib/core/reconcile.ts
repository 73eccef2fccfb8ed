/**
 * A slot left 'submitting' past its lease: its holder died (or timed out) somewhere around the
 * create call, so DashScope may or may not have the task (SPEC §4.2 case a).
 *
 * 1. If the holder got as far as recording the task of this attempt (`attempt/` row, written the
 *    moment the create returned), that task is adopted: exact, whatever state it is in.
 * 2. Otherwise we ask DashScope for the account's PENDING and RUNNING tasks that no row or slot of
 *    ours knows. While another submission is still within its lease its create may be in flight,
 *    and its task would look orphaned: we wait for it first. Then, one orphaned task and one
 *    orphaned slot are each other's, and the task is adopted instead of paid again.
 * 3. With several of either, matching them would be a guess that could put one sketch's image in
 *    another's manifest: instead this slot holds one orphaned task until it ends (cancelling it if
 *    still PENDING), keeping the in-flight bound, and the job goes back to the queue.
 * 4. With none, nothing reached DashScope or the orphan already finished: the job goes back to the
 *    queue and is sent again (counted in task.attempts; its images stay counted in the budget,
 *    since an orphan that finished was billed).
 * Matching by status, not by creation time, needs no agreement between our clock and DashScope's.
 *
 * Assumes sketchflow is the only user of the model in the account (the model runs one task at a
 * time per account, so sharing it would break the in-flight bound anyway; README).
 */
import { asError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import { isoTime } from './finalize.js';
import type { Jobs } from './jobs.js';
import { logState } from './journal.js';
import type { TaskSummary } from './ports.js';
import type { SlotProgress } from './track.js';
import { FREE_SLOT, type SlotView } from './records.js';

/** If the task list cannot be read for this long, give the slot back and resubmit. */
const ORPHAN_HOLD_MS = 10 * 60_000;

export async function reconcileSlot(deps: CoreDeps, jobs: Jobs, s: SlotView, all: SlotView[]): Promise<SlotProgress> {
  const { slot } = s;
  const now = deps.clock.now();
  const expired = (o: SlotView) => o.slot.state === 'submitting' && (o.slot.leaseUntil ?? 0) <= now;

  const recorded = slot.attempt !== undefined ? await jobs.attemptTask(slot.jobId!, slot.versionId!, slot.attempt) : undefined;
  if (recorded) return adopt(deps, jobs, s, recorded, 'recorded');

  if (all.some((o) => o.index !== s.index && o.slot.state === 'submitting' && !expired(o))) return 'busy';

  let candidates: TaskSummary[];
  try {
    const listed = await deps.model.listLiveTasks();
    const known = await jobs.knownTasks(listed.map((t) => t.taskId));
    for (const o of all) {
      if (o.slot.taskId) known.add(o.slot.taskId);
      if (o.index !== s.index && expired(o) && o.slot.attempt !== undefined) {
        const theirs = await jobs.attemptTask(o.slot.jobId!, o.slot.versionId!, o.slot.attempt);
        if (theirs) known.add(theirs.taskId);
      }
    }
    candidates = listed.filter((t) => !known.has(t.taskId)).sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  } catch (err) {
    if (now - (slot.acquiredAt ?? now) < ORPHAN_HOLD_MS) {
      deps.log.warn('task list unavailable; holding the slot', { jobKey: slot.jobKey, error: asError(err) });
      await jobs.putSlot(s.index, s.rev, { ...slot, leaseUntil: now + 30_000 });
      return 'busy';
    }
    candidates = [];
  }
  const first = candidates[0];
  if (first && candidates.length === 1 && all.filter(expired).length === 1) return adopt(deps, jobs, s, first, 'the only orphaned task');

  await requeueSubmitting(deps, jobs, { jobId: slot.jobId!, versionId: slot.versionId! }, first ? 'its task could not be told apart from another orphaned one' : 'the submission did not reach DashScope');
  if (first) {
    // Keep the in-flight bound: this slot follows the orphan (trackSlot cancels it if PENDING).
    deps.log.warn('holding an orphaned task', { jobKey: slot.jobKey, taskId: first.taskId, candidates: candidates.length });
    await jobs.putSlot(s.index, s.rev, { state: 'inflight', taskId: first.taskId, orphan: true, acquiredAt: now });
    return 'busy';
  }
  await jobs.putSlot(s.index, s.rev, FREE_SLOT);
  return 'freed';
}

async function adopt(deps: CoreDeps, jobs: Jobs, s: SlotView, task: { taskId: string; createdAt?: number }, why: string): Promise<SlotProgress> {
  const { slot } = s;
  const now = deps.clock.now();
  await jobs.recordTask(task.taskId, { jobId: slot.jobId!, jobKey: slot.jobKey!, versionId: slot.versionId!, createdAt: task.createdAt ?? now });
  await jobs.putSlot(s.index, s.rev, { ...slot, state: 'inflight', taskId: task.taskId, leaseUntil: undefined });
  const updated = await jobs.updateVersion(slot.jobId!, slot.versionId!, (cur) =>
    cur.state === 'SUBMITTING' ? { ...cur, state: 'SUBMITTED', taskId: task.taskId, submittedAt: isoTime(task.createdAt ?? now), updatedAt: now } : undefined,
  );
  if (updated) logState(deps, updated.job.jobKey, updated.job.current, { adopted: why });
  return 'busy';
}

/**
 * A SUBMITTING version with no task of its own goes back to the queue in its old place; the
 * attempt stays counted. False if it was no longer SUBMITTING (someone else moved it on).
 */
export async function requeueSubmitting(deps: CoreDeps, jobs: Jobs, { jobId, versionId }: { jobId: string; versionId: string }, reason: string): Promise<boolean> {
  const now = deps.clock.now();
  const updated = await jobs.updateVersion(jobId, versionId, (cur) => (cur.state === 'SUBMITTING' ? { ...cur, state: 'QUEUED', slot: undefined, updatedAt: now } : undefined));
  if (!updated) return false;
  await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId, jobKey: updated.job.jobKey, versionId });
  logState(deps, updated.job.jobKey, updated.job.current, { reason });
  return true;
}
