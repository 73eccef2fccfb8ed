/**
 * Once per poller invocation: look at every non-terminal version (the `active` rows, never the
 * finished jobs) and move along whatever no event will move: prompts that never came, failures
 * whose manifest was interrupted, queue hints that were lost, jobs waiting past MAX_QUEUE_HOURS.
 */
import type { CoreDeps } from './deps.js';
import { completeVersion, failureOutcome } from './finalize.js';
import { evaluateJob } from './submit.js';
import { budgetDay, budgetLimits, queueId, slotLayout, type Jobs } from './jobs.js';
import { splitKey } from '../contract/keys.js';
import { KIND, isTerminal, modelOf, type ActiveRecord, type JobRecord, type QueueRecord, type SlotView } from './records.js';
import type { StoredRow } from './ports.js';
import { asError } from '../errors.js';
import { costMilliCny, modelSpec } from '../models/index.js';
import type { Finished } from './track.js';
import { budgetOver, budgetWaitReason, isBudgetWait, submitLeaseMs } from './lifecycle/index.js';
import { requeueSubmitting } from './reconcile.js';
import { schedulerLeaseMs } from './lease.js';

/**
 * Longer than a submit invocation can live (FC stops it at its 60 s timeout), plus the leases'
 * 5 s clock margin: a hint older than this whose version is not in the job row is one a submit
 * wrote and then did not record (it lost a race to another event and recorded a newer look).
 */
export const HINT_GRACE_MS = 70_000;

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
  const queueRows = await jobs.scanAll<QueueRecord>(KIND.queue);
  const queueIds = new Set(queueRows.map((r) => r.id));
  // Rows outside the configured models' FIFOs (a model taken out of MODELS, ids of older
  // versions) would keep the queue looking busy: they go, and the QUEUED versions below are
  // queued again in their model's FIFO when it is configured.
  for (const r of queueRows) {
    if (!config.models.some((m) => r.id.startsWith(`${m}#`))) {
      await jobs.dequeue(r.id);
      report.staleRows++;
    }
  }
  const limits = budgetLimits(config);
  let used: { images: number; milliCny: number } | undefined;
  const inSlots = new Set(slots.filter((s) => s.slot.state !== 'free').map((s) => `${s.slot.jobId}:${s.slot.versionId}`));
  for (const activeRow of activeRows) {
    try {
      await sweepOne(activeRow);
    } catch (err) {
      // One version's trouble (a store hiccup, another version still writing its outputs) must
      // not stop the sweep of the others: the next invocation looks again.
      deps.log.warn('sweep of a version failed; the next invocation retries', { jobKey: activeRow.value.jobKey, version: activeRow.value.versionId, error: asError(err) });
    }
  }
  return report;

  async function sweepOne(activeRow: StoredRow<ActiveRecord>): Promise<void> {
    const { jobId, versionId, jobKey } = activeRow.value;
    const row = await jobs.getJob(jobId);
    if (row) seen?.set(jobId, row);
    const v = row?.value.current;
    if (!v || v.id !== versionId || isTerminal(v.state)) {
      // A hint for a version not (yet) in its job row may be one a submit is about to record: it
      // writes the hints first, then the row. Only a hint older than any submit can be is stale,
      // or one for a version the job has already had (it never becomes current again).
      const hadIt = row?.value.previous.some((p) => p.id === versionId) ?? false;
      const young = (!v || v.id !== versionId) && !hadIt && clock.now() - activeRow.value.since < HINT_GRACE_MS;
      if (!young && !inSlots.has(`${jobId}:${versionId}`)) {
        await jobs.clearActive(jobId, versionId);
        report.staleRows++;
      }
      return;
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
              message: `${v.sketch.key}: no prompt after ${Math.round((now - v.createdAt) / 1000)} s; add ${stem}.json or ${stem}.txt next to it (that starts it again), or upload the sketch again (the same file is fine) with x-oss-meta-prompt set or after putting a prompt in a _defaults.json`,
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
        if (isBudgetWait(v.waitingFor) && config.maxQueueMs > 0 && waited > config.maxQueueMs) {
          await completeVersion(deps, jobs, jobId, v.id, failureOutcome({ code: 'BudgetExceeded', message: `waited ${Math.round(waited / 3600_000)} h: ${v.waitingFor}` }));
          report.finalized++;
          break;
        }
        const model = modelOf(v);
        if (!config.models.includes(model)) {
          // Left QUEUED (an operator may configure the model again); status says why.
          const waitingFor = `${model} is not among MODELS (${config.models.join(', ')})`;
          if (v.waitingFor !== waitingFor) await jobs.updateVersion(jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor } : undefined));
          break;
        }
        if (!queueIds.has(queueId(model, v.queuedAt ?? v.createdAt, jobId))) {
          await jobs.enqueue(v.queuedAt ?? v.createdAt, { jobId, jobKey, versionId: v.id, model });
          report.requeued++;
        }
        if (limits.images > 0 || limits.milliCny > 0) {
          // Every job that does not fit what is left today says so, not only the head (run 9).
          const day = budgetDay(now);
          used ??= await jobs.budgetUsed(day);
          const n = v.request?.parameters.n ?? 1;
          const over = budgetOver(used, { images: n, milliCny: costMilliCny(modelSpec(model), n) }, limits);
          const reason = over ? budgetWaitReason(over, limits, day) : undefined;
          if (reason !== v.waitingFor && (reason || isBudgetWait(v.waitingFor) || v.waitingFor?.includes('is not among MODELS'))) {
            await jobs.updateVersion(jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor: reason } : undefined));
          }
        } else if (v.waitingFor?.includes('is not among MODELS')) {
          await jobs.updateVersion(jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor: undefined } : undefined));
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
          const fresh = await jobs.readSlots(slotLayout(config));
          if (fresh.some((s) => s.slot.state !== 'free' && s.slot.jobId === jobId && s.slot.versionId === versionId)) break;
          deps.log.warn('in-flight version without a slot', { jobKey, version: v.id, state: v.state, taskId: v.taskId });
          if (await adoptIntoFreeSlot(deps, jobs, fresh, now, { jobId, jobKey, versionId: v.id, taskId: v.taskId, model: modelOf(v) })) report.requeued++;
        }
        break;
      default:
        break;
    }
  }
}

/** Gives an in-flight version without a slot a free slot (tracking it), or requeues it if it has no task. */
async function adoptIntoFreeSlot(
  deps: CoreDeps,
  jobs: Jobs,
  slots: SlotView[],
  now: number,
  { jobId, jobKey, versionId, taskId, model }: { jobId: string; jobKey: string; versionId: string; taskId?: string; model: string },
): Promise<boolean> {
  if (!taskId) return requeueSubmitting(deps, jobs, { model, slot: { state: 'submitting', jobId, versionId } }, 'no task and no slot: queued again');
  const free = slots.find((s) => s.model === model && s.slot.state === 'free');
  if (!free) return false;
  try {
    await jobs.putSlot(free, free.rev, { state: 'inflight', jobId, jobKey, versionId, taskId, acquiredAt: now });
  } catch {
    return false; // the slot was just taken: the next sweep tries again
  }
  return true;
}
