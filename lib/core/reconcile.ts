/**
 * A slot left 'submitting' past its lease: its holder died (or timed out) somewhere around the
 * create call, so DashScope may or may not have the task (SPEC §4.2 case a). We ask DashScope for
 * the account's PENDING and RUNNING tasks that no row of ours knows: if there is one, it is this
 * submission, still occupying DashScope, and we adopt it instead of paying again (which also keeps
 * the in-flight bound). If there is none, either nothing reached DashScope or the orphan already
 * finished; the job goes back to the queue and is sent again (counted in task.attempts).
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
import type { SlotProgress, SlotView } from './track.js';
import { FREE_SLOT } from './records.js';

/** If the task list cannot be read for this long, give the slot back and resubmit. */
const ORPHAN_HOLD_MS = 10 * 60_000;

export async function reconcileSlot(deps: CoreDeps, jobs: Jobs, s: SlotView): Promise<SlotProgress> {
  const { slot } = s;
  const now = deps.clock.now();
  const acquiredAt = slot.acquiredAt ?? now;
  let candidates: TaskSummary[];
  try {
    const listed = await deps.model.listLiveTasks();
    const known = await jobs.knownTasks(listed.map((t) => t.taskId));
    candidates = listed.filter((t) => !known.has(t.taskId)).sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  } catch (err) {
    if (now - acquiredAt < ORPHAN_HOLD_MS) {
      deps.log.warn('task list unavailable; holding the slot', { jobKey: slot.jobKey, error: asError(err) });
      await jobs.putSlot(s.index, s.rev, { ...slot, leaseUntil: now + 30_000 });
      return 'busy';
    }
    candidates = [];
  }
  const job = await jobs.getJob(slot.jobId!);
  const v = job?.value.current;
  const adopted = candidates[0];
  if (adopted) {
    await jobs.recordTask(adopted.taskId, { jobId: slot.jobId!, jobKey: slot.jobKey!, versionId: slot.versionId!, createdAt: adopted.createdAt ?? now });
    await jobs.putSlot(s.index, s.rev, { ...slot, state: 'inflight', taskId: adopted.taskId, leaseUntil: undefined });
    if (v && v.id === slot.versionId && v.state === 'SUBMITTING') {
      const updated = await jobs.updateVersion(slot.jobId!, v.id, (cur) =>
        cur.state === 'SUBMITTING' ? { ...cur, state: 'SUBMITTED', taskId: adopted.taskId, submittedAt: isoTime(adopted.createdAt ?? now), updatedAt: now } : undefined,
      );
      if (updated) logState(deps, updated.job.jobKey, updated.job.current, { adopted: true });
    }
    return 'busy';
  }
  // Nothing reached DashScope: back to the queue in its old place (the attempt stays counted).
  if (v && v.id === slot.versionId && v.state === 'SUBMITTING') {
    const updated = await jobs.updateVersion(slot.jobId!, v.id, (cur) =>
      cur.state === 'SUBMITTING' ? { ...cur, state: 'QUEUED', slot: undefined, updatedAt: now } : undefined,
    );
    if (updated) {
      await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId: slot.jobId!, jobKey: updated.job.jobKey, versionId: v.id });
      logState(deps, updated.job.jobKey, updated.job.current, { reason: 'the submission did not reach DashScope' });
    }
  }
  await jobs.refundImages(slot.budgetDay ?? '', slot.images ?? 0, deps.config.maxImagesPerDay);
  await jobs.putSlot(s.index, s.rev, FREE_SLOT);
  return 'freed';
}
