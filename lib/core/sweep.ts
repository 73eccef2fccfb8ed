/**
 * Once per poller invocation: look at every non-terminal version (the `active` rows, never the
 * finished jobs) and move along whatever no event will move: prompts that never came, failures
 * whose manifest was interrupted, queue hints that were lost, jobs waiting past MAX_QUEUE_HOURS.
 */
import type { CoreDeps } from './deps.js';
import { completeVersion, failureOutcome } from './finalize.js';
import { evaluateJob } from './submit.js';
import { budgetDay, queueId, type Jobs } from './jobs.js';
import { splitKey } from '../contract/keys.js';
import { KIND, isTerminal, type JobRecord, type QueueRecord, type SlotView } from './records.js';
import type { StoredRow } from './ports.js';
import type { Finished } from './track.js';
import { budgetWaitReason, isBudgetWait, submitLeaseMs } from './lifecycle/index.js';
import { requeueSubmitting } from './reconcile.js';
import { schedulerLeaseMs } from './lease.js';

export interface SweepReport {
  active: number;
  expiredPrompts: number;
  finalized: number;
  requeued: number;
  staleRows: number;
}

/**
 * `seen` (optional) collects the job rows read, as read: the catch-up listing of the same
 * invocation takes them instead of reading them again (catchup.ts).
 */
export async function sweep(deps: CoreDeps, jobs: Jobs, slots: SlotView[], finished: Finished, seen?: Map<string, StoredRow<JobRecord>>): Promise<SweepReport> {
  const { config, clock } = deps;
  const report: SweepReport = { active: 0, expiredPrompts: 0, finalized: 0, requeued: 0, staleRows: 0 };
  const activeRows = await jobs.listActive();
  const queueIds = new Set((await jobs.scanAll<QueueRecord>(KIND.queue)).map((r) => r.id));
  let used: number | undefined;
  const inSlots = new Set(slots.filter((s) => s.slot.state !== 'free').map((s) => `${s.slot.jobId}:${s.slot.versionId}`));
  for (const activeRow of activeRows) {
    const { jobId, versionId, jobKey } = activeRow.value;
    const row = await jobs.getJob(jobId);
    if (row) seen?.set(jobId, row);
    const v = row?.value.current;
    if (!v || v.id !== versionId || isTerminal(v.state)) {
      if (!inSlots.has(`${jobId}:${versionId}`)) {
        await jobs.clearActive(jobId, versionId);
        report.staleRows++;
      }
      continue;
    }
    report.active++;
    const now = clock.now();
    switch (v.state) {
      case 'AWAITING_PROMPT':
        if (now - v.createdAt >= config.promptGraceMs) {
          // A `_defaults.json` (or sidecar) event can race the sketch's own evaluation and find
          // nothing waiting yet: look at the bucket once more before giving up on the prompt.
          const again = await evaluateJob(deps, jobs, jobKey);
          if (again.action !== 'no-sketch' && again.state !== 'AWAITING_PROMPT') break;
          const { stem } = splitKey(v.sketch.key); // the job key's own dots are part of the stem
          await completeVersion(
            deps,
            jobs,
            jobId,
            v.id,
            failureOutcome({
              code: 'MissingPrompt',
              message: `${v.sketch.key}: no prompt after ${Math.round((now - v.createdAt) / 1000)} s; add ${stem}.json or ${stem}.txt next to it, set x-oss-meta-prompt, or put a prompt in a _defaults.json, then upload the sketch again`,
            }),
          );
          report.expiredPrompts++;
        }
        break;
      case 'FINALIZING':
        if (v.taskId) {
          // A finished task whose copying was interrupted: the poller loop finishes it. Not while
          // a completion event's invocation (no lease) may still be copying it: none outlives the
          // lease's length.
          if (now - v.updatedAt >= schedulerLeaseMs(config.pollBudgetMs)) finished.set(jobId, { versionId: v.id });
        } else if (v.outcome || v.error) {
          // A failure decided at intake whose manifest was interrupted.
          await completeVersion(deps, jobs, jobId, v.id, v.outcome ?? failureOutcome(v.error!));
          report.finalized++;
        }
        break;
      case 'QUEUED': {
        const waited = now - (v.queuedAt ?? v.createdAt);
        if (v.waitingFor && config.maxQueueMs > 0 && waited > config.maxQueueMs) {
          await completeVersion(deps, jobs, jobId, v.id, failureOutcome({ code: 'BudgetExceeded', message: `waited ${Math.round(waited / 3600_000)} h: ${v.waitingFor}` }));
          report.finalized++;
          break;
        }
        if (!queueIds.has(queueId(v.queuedAt ?? v.createdAt, jobId))) {
          await jobs.enqueue(v.queuedAt ?? v.createdAt, { jobId, jobKey, versionId: v.id });
          report.requeued++;
        }
        if (config.maxImagesPerDay > 0) {
          // Every job that does not fit what is left today says so, not only the head (run 9).
          const day = budgetDay(now);
          used ??= await jobs.imagesUsed(day);
          const n = v.request?.parameters.n ?? 1;
          const reason = used + n > config.maxImagesPerDay ? budgetWaitReason(config.maxImagesPerDay, day) : undefined;
          if (reason !== v.waitingFor && (reason || isBudgetWait(v.waitingFor))) {
            await jobs.updateVersion(jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor: reason } : undefined));
          }
        }
        break;
      }
      case 'SUBMITTING':
      case 'SUBMITTED':
      case 'RUNNING':
        // Claims take the slot before the job and releases free the job before the slot, so a
        // fresh read of the slots after reading the job sees the slot of any live claim. Only a
        // version that has had no slot for longer than a submission may take is repaired.
        if (now - v.updatedAt > 2 * submitLeaseMs(config)) {
          const fresh = await jobs.readSlots(config.maxInFlight);
          if (fresh.some((s) => s.slot.state !== 'free' && s.slot.jobId === jobId && s.slot.versionId === versionId)) break;
          deps.log.warn('in-flight version without a slot', { jobKey, version: v.id, state: v.state, taskId: v.taskId });
          if (await adoptIntoFreeSlot(deps, jobs, fresh, now, { jobId, jobKey, versionId: v.id, taskId: v.taskId })) report.requeued++;
        }
        break;
      default:
        break;
    }
  }
  return report;
}

/** Gives an in-flight version without a slot a free slot (tracking it), or requeues it if it has no task. */
async function adoptIntoFreeSlot(
  deps: CoreDeps,
  jobs: Jobs,
  slots: SlotView[],
  now: number,
  { jobId, jobKey, versionId, taskId }: { jobId: string; jobKey: string; versionId: string; taskId?: string },
): Promise<boolean> {
  if (!taskId) return requeueSubmitting(deps, jobs, { slot: { state: 'submitting', jobId, versionId } }, 'no task and no slot: queued again');
  const free = slots.find((s) => s.slot.state === 'free');
  if (!free) return false;
  try {
    await jobs.putSlot(free.index, free.rev, { state: 'inflight', jobId, jobKey, versionId, taskId, acquiredAt: now });
  } catch {
    return false; // the slot was just taken: the next sweep tries again
  }
  return true;
}
