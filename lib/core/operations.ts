/**
 * What operators do to a running deployment (SPEC §7: status, retry, backfill), over the same
 * ports as the functions. The CLI presents these; it holds no logic of its own.
 */
import { classifyKey, jobIdOf, manifestKey } from '../contract/keys.js';
import type { CoreDeps } from './deps.js';
import { budgetDay, Jobs, slotLayout } from './jobs.js';
import { modelSpec } from '../models/index.js';
import { isTerminal, KIND, modelOf, type JobRecord, type JobState, type PauseRecord } from './records.js';
import { evaluateJob, type SubmitOutcome } from './submit.js';
import { unfinishedOnPage, unrecordedJobs } from './catchup.js';

export interface JobStatus {
  jobKey: string;
  state: JobState;
  version: string;
  sketchKey: string;
  /** ms since this version was first seen. */
  ageMs: number;
  /** ms since its last state change. */
  idleMs: number;
  attempts: number;
  /** The model it is sent to (absent while no request is resolved: no prompt yet, or bad input). */
  model?: string;
  taskId?: string;
  waitingFor?: string;
  error?: { code: string; message: string };
  manifestKey: string;
}

export interface PipelineStatus {
  jobs: JobStatus[];
  counts: Partial<Record<JobState, number>>;
  slots: Array<{ model: string; index: number; state: string; jobKey?: string; taskId?: string }>;
  queued: number;
  /** Each configured model: its slots (busy of total), its queued jobs, its limits and price, a pause. */
  models: Array<{ model: string; slots: number; inFlight: number; queued: number; concurrency: number; createsPerSecond: number; priceCny: number; paused?: PauseRecord }>;
  /** Images and CNY requested today; `max` 0 = no limit. */
  budget: { day: string; used: number; max: number; cny: { used: number; max: number } };
  poller?: { owner: string; until: number };
  /** Submission is paused for a model: DashScope refused the account (SPEC §4.2; lifecycle). The first such model's. */
  paused?: PauseRecord;
  /** Sketches under the prefix whose newest upload no job records yet (lost events; `backfill` queues them). */
  unrecorded: string[];
}

/** Every job under `prefix` (reads all job rows: an operator command, not a hot path). */
export async function pipelineStatus(deps: CoreDeps, prefix = deps.config.sketchPrefix): Promise<PipelineStatus> {
  const jobs = new Jobs(deps.rows);
  const now = deps.clock.now();
  const rows = await jobs.scanAll<JobRecord>(KIND.job);
  const list: JobStatus[] = rows
    .map((r) => r.value)
    .filter((j) => j.jobKey.startsWith(prefix))
    .map((j) => ({
      jobKey: j.jobKey,
      state: j.current.state,
      version: j.current.id,
      sketchKey: j.current.sketch.key,
      ageMs: now - j.current.createdAt,
      idleMs: now - j.current.updatedAt,
      attempts: j.current.attempts,
      ...(j.current.request ? { model: modelOf(j.current) } : {}),
      ...(j.current.taskId ? { taskId: j.current.taskId } : {}),
      ...(j.current.waitingFor ? { waitingFor: j.current.waitingFor } : {}),
      ...(j.current.error ? { error: j.current.error } : {}),
      manifestKey: manifestKey(j.jobKey),
    }))
    .sort((a, b) => (a.jobKey < b.jobKey ? -1 : a.jobKey > b.jobKey ? 1 : 0));
  const counts: Partial<Record<JobState, number>> = {};
  for (const j of list) counts[j.state] = (counts[j.state] ?? 0) + 1;
  const layout = slotLayout(deps.config);
  const slots = (await jobs.readSlots(layout)).map((s) => ({
    model: s.model,
    index: s.index,
    state: s.slot.state,
    ...(s.slot.jobKey ? { jobKey: s.slot.jobKey } : {}),
    ...(s.slot.taskId ? { taskId: s.slot.taskId } : {}),
  }));
  const day = budgetDay(now);
  const poller = await jobs.leaseHolder(now);
  const models: PipelineStatus['models'] = [];
  for (const { model, slots: count } of layout) {
    const spec = modelSpec(model);
    const modelPause = await jobs.pause(model);
    models.push({
      model,
      slots: count,
      inFlight: slots.filter((s) => s.model === model && s.state !== 'free').length,
      queued: list.filter((j) => j.state === 'QUEUED' && j.model === model).length,
      concurrency: spec.limits.concurrency,
      createsPerSecond: spec.limits.createsPerSecond,
      priceCny: spec.priceCny,
      ...(modelPause ? { paused: modelPause } : {}),
    });
  }
  const paused = models.find((m) => m.paused)?.paused;
  const unrecorded = await unrecordedJobs(deps, jobs, await deps.objects.list(prefix));
  const used = await jobs.budgetUsed(day);
  return {
    jobs: list,
    counts,
    slots,
    // From the jobs themselves: queue rows are hints and may hold stale duplicates.
    queued: counts.QUEUED ?? 0,
    models,
    budget: { day, used: used.images, max: deps.config.maxImagesPerDay, cny: { used: used.milliCny / 1000, max: deps.config.maxMilliCnyPerDay / 1000 } },
    ...(poller ? { poller } : {}),
    ...(paused ? { paused } : {}),
    unrecorded,
  };
}

/**
 * Processes a sketch again, even if it finished: the job's generation is bumped so the same files
 * make a new version (which bills again: that is what was asked for).
 */
export async function retryJob(deps: CoreDeps, key: string): Promise<SubmitOutcome> {
  const kind = classifyKey(key, deps.config.sketchPrefix, deps.config.stagingPrefix);
  const jobKey = kind.kind === 'sketch' || kind.kind === 'sidecar' || kind.kind === 'output' ? kind.jobKey : key;
  const jobs = new Jobs(deps.rows);
  const jobId = jobIdOf(jobKey);
  // A job never seen is left alone: a normal evaluation records it.
  await jobs.modify<JobRecord>(KIND.job, jobId, (row) => row && { ...row.value, generation: (row.value.generation ?? 0) + 1 }, 5);
  return { key: jobKey, ...(await evaluateJob(deps, jobs, jobKey)) };
}

/** The states `retry --failed` takes up: finished without every image (SPEC §7 counts them as failures). */
export const FAILED_STATES: readonly JobState[] = ['FAILED', 'PARTIAL', 'CANCELED'];

export interface RetriedJob {
  jobKey: string;
  /** The failed state and error code it had. */
  was: JobState;
  code?: string;
  outcome: SubmitOutcome;
  /** Its state right after the retry (a version failing its checks again is FAILED already). */
  state?: JobState;
  error?: { code: string; message: string };
}

export interface RetryFailedReport {
  prefix: string;
  /** Every job under the prefix that had failed, in key order, with what its retry made of it. */
  jobs: RetriedJob[];
}

/**
 * `retry PREFIX --failed`: every job under `prefix` whose current version failed is processed
 * again (as `retryJob`, a new version each: billed again) — after an account problem or a bad
 * `_defaults.json` was fixed. `onJob` sees each as it is done (progress).
 */
export async function retryFailed(
  deps: CoreDeps,
  prefix: string,
  onJob?: (job: RetriedJob, done: number, total: number) => void,
): Promise<RetryFailedReport> {
  const jobs = new Jobs(deps.rows);
  const failed = (await jobs.scanAll<JobRecord>(KIND.job))
    .map((r) => r.value)
    .filter((j) => j.jobKey.startsWith(prefix) && FAILED_STATES.includes(j.current.state))
    .sort((a, b) => (a.jobKey < b.jobKey ? -1 : a.jobKey > b.jobKey ? 1 : 0));
  const report: RetryFailedReport = { prefix, jobs: [] };
  for (const j of failed) {
    const outcome = await retryJob(deps, j.jobKey);
    const now = (await jobs.getJob(jobIdOf(j.jobKey)))?.value.current;
    const done: RetriedJob = {
      jobKey: j.jobKey,
      was: j.current.state,
      ...(j.current.error ? { code: j.current.error.code } : {}),
      outcome,
      ...(now && outcome.action !== 'no-sketch' ? { state: now.state, ...(now.error ? { error: now.error } : {}) } : {}),
    };
    report.jobs.push(done);
    onJob?.(done, report.jobs.length, failed.length);
  }
  return report;
}

export interface BackfillReport {
  sketches: number;
  alreadyDone: number;
  outcomes: SubmitOutcome[];
}

/**
 * Brings every sketch under `prefix` that has no manifest newer than its files up to date with the
 * bucket: uploaded before the deployment, while it was down, or with every event lost (recorded
 * ones just resume). Jobs whose manifest is newer than all their files are done.
 */
export async function backfill(deps: CoreDeps, prefix: string): Promise<BackfillReport> {
  const jobs = new Jobs(deps.rows);
  const objects = await deps.objects.list(prefix);
  const jobKeys = new Set<string>();
  for (const o of objects) {
    const kind = classifyKey(o.key, deps.config.sketchPrefix, deps.config.stagingPrefix);
    if (kind.kind === 'sketch') jobKeys.add(kind.jobKey);
  }
  const open = [...unfinishedOnPage(deps.config.sketchPrefix, objects, deps.config.stagingPrefix).keys()].filter((k) => jobKeys.has(k)).sort();
  const report: BackfillReport = { sketches: jobKeys.size, alreadyDone: jobKeys.size - open.length, outcomes: [] };
  for (const jobKey of open) {
    const outcome = await evaluateJob(deps, jobs, jobKey);
    // Listing times are whole seconds: a manifest written in its sketch's second looks unfinished.
    if (outcome.action === 'duplicate' && outcome.state && isTerminal(outcome.state as JobState)) report.alreadyDone++;
    else report.outcomes.push({ key: jobKey, ...outcome });
  }
  return report;
}
