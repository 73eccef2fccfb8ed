/**
 * Following an in-flight task (SPEC §4 poller): query it, notice RUNNING, finalize it when it
 * ends, resubmit it when DashScope lost it, and cancel or discard it when a newer version of its
 * job arrived. Every path that frees a slot goes through a conditional write on the slot row.
 */
import { dispositionOf, asError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import { checkpoint } from './deps.js';
import { completeVersion, copyResults, dashscopeTimeToIso, failureOutcome, isoTime, outcomeOf, releaseStale } from './finalize.js';
import type { Jobs } from './jobs.js';
import { logState, logStateOf } from './journal.js';
import type { TaskView } from './ports.js';
import { FREE_SLOT, isTerminal, type JobRecord, type SlotRecord, type SlotView } from './records.js';

export type SlotProgress = 'busy' | 'freed';

/** Versions whose task ended this pass, to finalize after the slots are refilled. */
export type Finished = Map<string, { versionId: string; view?: TaskView }>;

export async function trackSlot(deps: CoreDeps, jobs: Jobs, s: SlotView, finished: Finished): Promise<SlotProgress> {
  const { slot } = s;
  const taskId = slot.taskId!;
  let view: TaskView;
  try {
    view = await deps.model.getTask(taskId);
  } catch (err) {
    deps.log.warn('task query failed', { jobKey: slot.jobKey, taskId, disposition: dispositionOf(err), error: asError(err) });
    return 'busy';
  }
  if (slot.orphan) return followOrphan(deps, jobs, s, view);
  const row = await jobs.getJob(slot.jobId!);
  const current = row?.value.current;
  if (!current || current.id !== slot.versionId) return retireSuperseded(deps, jobs, s, view);

  const lost = view.status === 'UNKNOWN' || (view.status === 'FAILED' && view.code === 'InternalError.Timeout');
  if (lost) return handleLost(deps, jobs, s, view, row!.value);
  if (view.status === 'RUNNING') {
    // Our own clock, not DashScope's: the poller's rest (poller.ts) is reckoned from it.
    if (slot.runningSince === undefined) await jobs.putSlot(s.index, s.rev, { ...slot, runningSince: deps.clock.now() });
    if (current.state === 'SUBMITTED') {
      const startedAt = dashscopeTimeToIso(view.scheduledTime) ?? isoTime(deps.clock.now());
      const updated = await jobs.updateVersion(slot.jobId!, current.id, (v) => (v.state === 'SUBMITTED' ? { ...v, state: 'RUNNING', startedAt, updatedAt: deps.clock.now() } : undefined));
      if (updated) logState(deps, row!.value.jobKey, updated.job.current);
    }
    return 'busy';
  }
  if (view.status === 'SUCCEEDED' || view.status === 'FAILED' || view.status === 'CANCELED') {
    const progress = await closeTask(deps, jobs, s, view);
    finished.set(slot.jobId!, { versionId: slot.versionId!, view });
    return progress;
  }
  return 'busy';
}

/** A task reconciliation could not match to its job (reconcile.ts): cancel it if we can, else wait it out. */
async function followOrphan(deps: CoreDeps, jobs: Jobs, s: SlotView, view: TaskView): Promise<SlotProgress> {
  if (view.status === 'RUNNING' || view.status === 'SUSPENDED') return 'busy';
  if (view.status === 'PENDING') {
    const canceled = await deps.model.cancelTask(view.taskId).catch(() => false);
    if (!canceled) return 'busy';
  }
  deps.log.info('orphaned task let go', { taskId: view.taskId, taskStatus: view.status === 'PENDING' ? 'CANCELED' : view.status });
  await jobs.putSlot(s.index, s.rev, FREE_SLOT);
  return 'freed';
}

/** An older version's task: cancel it while PENDING, discard its results once it ends. */
async function retireSuperseded(deps: CoreDeps, jobs: Jobs, s: SlotView, view: TaskView): Promise<SlotProgress> {
  const { slot } = s;
  if (view.status === 'PENDING') {
    let canceled = false;
    try {
      canceled = await deps.model.cancelTask(slot.taskId!);
    } catch (err) {
      deps.log.warn('cancel failed', { jobKey: slot.jobKey, taskId: slot.taskId, error: asError(err) });
    }
    if (!canceled) return 'busy';
    logStateOf(deps, slot.jobKey ?? '', slot.versionId ?? '', 'CANCELED', { taskId: slot.taskId, reason: 'a newer version of the job arrived' });
  } else if (view.status === 'RUNNING' || view.status === 'SUSPENDED') {
    return 'busy'; // it occupies DashScope's slot until it ends; then its results are dropped
  }
  await releaseStale(deps, jobs, slot.jobId!, slot.versionId!, s);
  return 'freed';
}

async function handleLost(deps: CoreDeps, jobs: Jobs, s: SlotView, view: TaskView, job: JobRecord): Promise<SlotProgress> {
  const { slot } = s;
  const { config, clock } = deps;
  const reason = view.status === 'UNKNOWN' ? 'UNKNOWN' : (view.code ?? 'InternalError.Timeout');
  const v = job.current;
  if (v.attempts >= config.maxAttempts) {
    const outcome = failureOutcome({
      code: 'TaskLost',
      message: `DashScope lost the task ${v.attempts} time(s) (last answer: ${reason}); upload the sketch again to retry`,
    });
    await completeVersion(deps, jobs, slot.jobId!, v.id, outcome, s);
    return 'freed';
  }
  const now = clock.now();
  const updated = await jobs.updateVersion(slot.jobId!, v.id, (cur) => ({ ...cur, state: 'QUEUED', taskId: undefined, slot: undefined, notBefore: undefined, updatedAt: now }));
  if (updated) {
    await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId: slot.jobId!, jobKey: job.jobKey, versionId: v.id });
    logState(deps, job.jobKey, updated.job.current, { lostTaskId: slot.taskId, reason });
  }
  await jobs.putSlot(s.index, s.rev, FREE_SLOT);
  return 'freed';
}

/**
 * DashScope finished the task: it no longer occupies DashScope's slot, so ours is freed at once
 * (the next submission need not wait for the copying) and the version goes FINALIZING with its
 * task id. Copying and the manifest follow in `finalizeFinished`, which can resume after a crash.
 */
export async function closeTask(deps: CoreDeps, jobs: Jobs, s: SlotView, view: TaskView): Promise<SlotProgress> {
  const { slot } = s;
  const now = deps.clock.now();
  const times = {
    submittedAt: dashscopeTimeToIso(view.submitTime),
    startedAt: dashscopeTimeToIso(view.scheduledTime),
    endedAt: dashscopeTimeToIso(view.endTime) ?? isoTime(now),
  };
  const updated = await jobs.updateVersion(slot.jobId!, slot.versionId!, (v) =>
    v.state === 'FINALIZING' || isTerminal(v.state)
      ? undefined
      : {
          ...v,
          state: 'FINALIZING',
          taskId: slot.taskId,
          // DashScope's own clock for all three, so the times in a manifest are comparable.
          submittedAt: times.submittedAt ?? v.submittedAt,
          startedAt: times.startedAt ?? v.startedAt,
          endedAt: times.endedAt,
          updatedAt: now,
        },
  );
  if (updated) logState(deps, updated.job.jobKey, updated.job.current, { taskStatus: view.status });
  await jobs.putSlot(s.index, s.rev, FREE_SLOT);
  if (view.status === 'SUCCEEDED' && slot.runningSince !== undefined) {
    await jobs.recordTaskDuration(now - slot.runningSince).catch((err: unknown) => deps.log.debug('task duration not recorded', { error: err }));
  }
  return 'freed';
}

/**
 * Copies a finished task's images, writes the manifest, marks the job terminal (finalize.ts).
 * `view` is the task as last seen; without it DashScope is asked again (it keeps results 24 h).
 */
export async function finalizeFinished(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string, view?: TaskView): Promise<void> {
  const row = await jobs.getJob(jobId);
  const v = row?.value.current;
  if (!row || !v || v.id !== versionId || v.state !== 'FINALIZING' || !v.taskId) return;
  if (v.outcome) {
    await completeVersion(deps, jobs, jobId, versionId, v.outcome);
    return;
  }
  const task = view ?? (await deps.model.getTask(v.taskId));
  await checkpoint(deps, 'finalize:started', row.value.jobKey);
  if (task.status === 'UNKNOWN') {
    const outcome = failureOutcome({ code: 'ResultDownloadFailed', message: `DashScope no longer has the results of task ${v.taskId} (it keeps them 24 h)` });
    await completeVersion(deps, jobs, jobId, versionId, outcome);
    return;
  }
  // The retry window counts from when we saw the task end (our clock; DashScope's may differ).
  const results = task.status === 'SUCCEEDED' ? await copyResults(deps, row.value.jobKey, task, v.updatedAt) : [];
  await checkpoint(deps, 'finalize:results-copied', row.value.jobKey);
  await completeVersion(deps, jobs, jobId, versionId, outcomeOf(task, results));
}
