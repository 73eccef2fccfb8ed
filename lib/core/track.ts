/**
 * Following an in-flight task (SPEC §4 poller): the shell around the lifecycle's reading of a
 * task query (lifecycle/transitions.ts `afterQuery`). It queries the task, reads the slot's job,
 * and applies the decision: note RUNNING, close a finished task, send a lost one again, cancel or
 * let go of a task no current version follows. Every path that frees a slot is a conditional
 * write on the slot row; every version change is guarded on the state it was decided for.
 */
import { asError, ConditionFailedError } from '../errors.js';
import { checkpoint, lifecycleCtx, outputsLeaseUntil, type CoreDeps } from './deps.js';
import { completeVersion, copyResults, failureOutcome, givingBackOnError, holdOutputsOrWait, outcomeOf, releaseStale } from './finalize.js';
import type { Jobs } from './jobs.js';
import { recordNewerUpload } from './catchup.js';
import { logState, logStateOf } from './journal.js';
import { afterQuery, type QueryDecision } from './lifecycle/index.js';
import type { StoredRow, TaskView } from './ports.js';
import { FREE_SLOT, type JobRecord, type SlotView, type VersionRecord } from './records.js';
import { dropStagingOf } from './staging.js';

export type SlotProgress = 'busy' | 'freed';

/** Versions whose task ended this pass, to finalize after the slots are refilled. */
export type Finished = Map<string, { versionId: string; view?: TaskView; notBefore?: number }>;

export async function trackSlot(deps: CoreDeps, jobs: Jobs, s: SlotView, finished: Finished): Promise<SlotProgress> {
  const { slot } = s;
  const taskId = slot.taskId!;
  let reply: { view: TaskView } | { error: unknown };
  try {
    reply = { view: await deps.model.getTask(taskId) };
  } catch (err) {
    reply = { error: err };
  }
  const row = slot.orphan || !slot.jobId ? undefined : await jobs.getJob(slot.jobId);
  const version = row?.value.current;
  const decision = afterQuery({ slot: s, version, reply }, lifecycleCtx(deps));
  return apply(deps, jobs, s, decision, { row, version, jobKey: row?.value.jobKey ?? slot.jobKey ?? '', reply, finished });
}

async function apply(
  deps: CoreDeps,
  jobs: Jobs,
  s: SlotView,
  decision: QueryDecision,
  seen: { row?: StoredRow<JobRecord>; version?: VersionRecord; jobKey: string; reply: { view: TaskView } | { error: unknown }; finished: Finished },
): Promise<SlotProgress> {
  const { slot } = s;
  const { jobKey } = seen;
  const view = 'view' in seen.reply ? seen.reply.view : undefined;
  switch (decision.kind) {
    case 'keep': {
      if (decision.warn) {
        const error = 'error' in seen.reply ? asError(seen.reply.error) : undefined;
        deps.log.warn(decision.warn, { jobKey, taskId: slot.taskId, ...(view ? { taskStatus: view.status } : {}), ...(error ? { error } : {}) });
      }
      if (decision.slot) await putSlot(jobs, s, decision.slot);
      if (decision.version && slot.jobId && slot.versionId) {
        const updated = await jobs.updateVersion(slot.jobId, slot.versionId, decision.version, seen.row ? { known: seen.row } : {});
        if (updated) logState(deps, jobKey, updated.job.current);
      }
      return 'busy';
    }
    case 'finish': {
      // DashScope finished the task: it no longer occupies DashScope's slot, so ours is freed at
      // once and the version goes FINALIZING with its task id; copying follows (finalizeFinished).
      // The outputs lease comes with the same write when no other writer holds it (saves one).
      const now = deps.clock.now();
      const until = outputsLeaseUntil(deps);
      const jobFields = (job: JobRecord): Partial<JobRecord> => {
        const held = job.outputs;
        const mine = held !== undefined && held.versionId === slot.versionId && held.owner === deps.owner;
        if (held && !mine && held.until > now) return {};
        return { outputs: { versionId: slot.versionId!, owner: deps.owner, until: Math.max(until, mine ? held.until : 0) } };
      };
      const updated = await jobs.updateVersion(slot.jobId!, slot.versionId!, decision.version, { jobFields, ...(seen.row ? { known: seen.row } : {}) });
      if (updated) {
        logState(deps, jobKey, updated.job.current, { taskStatus: view?.status });
        seen.finished.set(slot.jobId!, { versionId: slot.versionId!, ...(view ? { view } : {}) });
      }
      return (await putSlot(jobs, s, FREE_SLOT)) ? 'freed' : 'busy';
    }
    case 'lost': {
      if (decision.outcome) {
        await completeVersion(deps, jobs, slot.jobId!, slot.versionId!, decision.outcome, undefined, decision.follows);
      } else {
        const updated = await jobs.updateVersion(slot.jobId!, slot.versionId!, decision.requeue!);
        if (updated) {
          const now = deps.clock.now();
          await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId: slot.jobId!, jobKey, versionId: slot.versionId!, model: s.model });
          logState(deps, jobKey, updated.job.current, { lostTaskId: slot.taskId, reason: decision.reason });
        }
      }
      return (await putSlot(jobs, s, FREE_SLOT)) ? 'freed' : 'busy';
    }
    case 'cancel': {
      let canceled = false;
      try {
        canceled = await deps.model.cancelTask(slot.taskId!);
      } catch (err) {
        deps.log.warn('cancel failed', { jobKey, taskId: slot.taskId, error: asError(err) });
      }
      if (!canceled) return 'busy'; // started meanwhile, or the call failed: followed until it ends
      // Whether a cancel of a task that has just started answers an error or a 200 that did
      // nothing is not documented: only a status that says it ended lets the slot go.
      const after = await deps.model.getTask(slot.taskId!).catch(() => undefined);
      const ended = after && ['finished', 'lost'].includes(lifecycleCtx(deps).rules.taskStatusClass(after.status, after.code));
      if (!ended) return 'busy';
      if (slot.orphan) deps.log.info('orphaned task let go', { taskId: slot.taskId, taskStatus: 'CANCELED' });
      else logStateOf(deps, jobKey, slot.versionId ?? '', 'CANCELED', { taskId: slot.taskId, reason: 'no current version follows this task' });
      return release(deps, jobs, s);
    }
    case 'release':
      if (slot.orphan) deps.log.info('orphaned task let go', { taskId: slot.taskId, taskStatus: view?.status });
      return release(deps, jobs, s);
  }
}

/** The slot's task is nobody's any more: free the slot; a superseded version's bookkeeping goes. */
async function release(deps: CoreDeps, jobs: Jobs, s: SlotView): Promise<SlotProgress> {
  const { slot } = s;
  if (slot.orphan || !slot.jobId || !slot.versionId) return (await putSlot(jobs, s, FREE_SLOT)) ? 'freed' : 'busy';
  const row = await jobs.getJob(slot.jobId);
  if (row?.value.current.id === slot.versionId) {
    // Its own version moved on (sent again elsewhere, or finished): only the slot goes.
    return (await putSlot(jobs, s, FREE_SLOT)) ? 'freed' : 'busy';
  }
  await releaseStale(deps, jobs, slot.jobId, slot.versionId, s);
  return 'freed';
}

/** A conditional slot write; false when another invocation changed the slot first (it decides). */
async function putSlot(jobs: Jobs, s: SlotView, next: SlotView['slot']): Promise<boolean> {
  try {
    await jobs.putSlot(s, s.rev, next);
    return true;
  } catch (err) {
    if (err instanceof ConditionFailedError) return false;
    throw err;
  }
}

/**
 * Copies a finished task's images, writes the manifest, marks the job terminal (finalize.ts).
 * `view` is the task as last seen; without it DashScope is asked again (it keeps results 24 h).
 */
export function finalizeFinished(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string, view?: TaskView): Promise<void> {
  return givingBackOnError(deps, jobs, jobId, versionId, () => copyAndComplete(deps, jobs, jobId, versionId, view));
}

async function copyAndComplete(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string, view?: TaskView): Promise<void> {
  const row = await jobs.getJob(jobId);
  const v = row?.value.current;
  if (row && v?.id !== versionId) await dropStagingOf(deps, jobId, row.value.jobKey, versionId); // superseded while its results were due
  if (!row || !v || v.id !== versionId || v.state !== 'FINALIZING' || !v.taskId) {
    // The lease taken with FINALIZING (trackSlot) is carried into a newer version's row, whose
    // writer waits for it: give it back now, not at this invocation's deadline.
    const held = row?.value.outputs;
    if (row && held?.versionId === versionId && held.owner === deps.owner) await jobs.releaseOutputs(jobId, versionId, deps.owner, row);
    return;
  }
  const newerUpload = () => recordNewerUpload(deps, jobs, row.value.jobKey, versionId, row.value.generation ?? 0);
  if (v.outcome) {
    await completeVersion(deps, jobs, jobId, versionId, v.outcome, undefined, undefined, newerUpload);
    return;
  }
  const task = view ?? (await deps.model.getTask(v.taskId));
  const cls = lifecycleCtx(deps).rules.taskStatusClass(task.status, task.code);
  if (cls !== 'finished' && cls !== 'lost') {
    // Asked again after a crash, DashScope answers something we cannot read: try on a later pass.
    throw new Error(`task ${v.taskId} answered status ${JSON.stringify(task.status)} while its results were being copied`);
  }
  await checkpoint(deps, 'finalize:started', row.value.jobKey);
  if (cls === 'lost') {
    const outcome = failureOutcome({ code: 'ResultDownloadFailed', message: `DashScope no longer has the results of task ${v.taskId} (it keeps them 24 h)` });
    await completeVersion(deps, jobs, jobId, versionId, outcome);
    return;
  }
  if (!(await holdOutputsOrWait(deps, jobs, jobId, versionId))) {
    await releaseStale(deps, jobs, jobId, versionId);
    return;
  }
  // The retry window counts from when we saw the task end (our clock; DashScope's may differ).
  const results = task.status === 'SUCCEEDED' ? await copyResults(deps, row.value.jobKey, task, v.updatedAt) : [];
  await checkpoint(deps, 'finalize:results-copied', row.value.jobKey);
  // Were the files replaced while the task ran? Looked at after the manifest and before the
  // version is terminal, so a failed look is repeated when finalizing resumes (catchup.ts).
  await completeVersion(deps, jobs, jobId, versionId, outcomeOf(task, results), undefined, undefined, newerUpload);
}
