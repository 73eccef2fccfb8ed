/**
 * The submit function's core: an object was created in the bucket (SPEC §4 "Submit function").
 * Outputs and unrelated keys are skipped from the key alone, with no I/O (invariant 4). A sketch or
 * sidecar upload re-evaluates its job from the bucket's current state, so sketch-then-sidecar,
 * sidecar-then-sketch and duplicates all converge on one version and one submission.
 */
import { candidateObjectKeys, type OssEventRecord } from '../events/oss.js';
import { classifyKey, jobIdOf, type KeyKind } from '../contract/keys.js';
import { ConditionFailedError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import { checkpoint } from './deps.js';
import { fillSlots } from './dispatch.js';
import { completeVersion, failureOutcome, OutputsBusyError } from './finalize.js';
import { buildVersion, FilesChanged, listJobFiles, versionIdFor, type UploadEvent } from './intake.js';
import { Jobs } from './jobs.js';
import { logState } from './journal.js';
import { isTerminal, modelOf, type JobRecord, type Outcome, type VersionRecord } from './records.js';

export type SubmitAction =
  | 'skipped' // not ours to look at (output, other bucket, not a sketch)
  | 'refused' // looks like input but cannot be processed under its name (logged as a warning)
  | 'no-sketch' // a sidecar whose sketch has not arrived (or was deleted)
  | 'duplicate' // this version is already recorded
  | 'recorded' // a new version: queued, submitted, awaiting a prompt, or failed its checks
  | 'released'; // a _defaults.json upload re-evaluated waiting jobs

export interface SubmitOutcome {
  key: string;
  action: SubmitAction;
  detail?: string;
  jobKey?: string;
  state?: string;
}

type Relevant = Extract<KeyKind, { kind: 'sketch' | 'sidecar' | 'defaults' }>;

export async function onObjectCreated(deps: CoreDeps, record: OssEventRecord): Promise<SubmitOutcome> {
  const rawKey = record.oss.object.key;
  if (record.eventName !== undefined && !record.eventName.startsWith('ObjectCreated:')) {
    return { key: rawKey, action: 'skipped', detail: `${record.eventName} is not an upload` };
  }
  if (record.oss.bucket.name !== deps.config.oss.bucket) {
    return { key: rawKey, action: 'skipped', detail: `bucket ${record.oss.bucket.name} is not ${deps.config.oss.bucket}` };
  }
  const candidates = candidateObjectKeys(rawKey)
    .map((key) => ({ key, kind: classifyKey(key, deps.config.sketchPrefix, deps.config.stagingPrefix) }))
    .filter((c): c is { key: string; kind: Relevant } => c.kind.kind === 'sketch' || c.kind.kind === 'sidecar' || c.kind.kind === 'defaults');
  if (candidates.length === 0) {
    const kind = classifyKey(rawKey, deps.config.sketchPrefix, deps.config.stagingPrefix);
    if (kind.kind === 'refused') return { key: rawKey, action: 'refused', detail: kind.reason };
    return { key: rawKey, action: 'skipped', detail: kind.kind === 'output' ? 'an output of sketchflow' : kind.kind === 'ignored' ? kind.reason : kind.kind };
  }
  let chosen = candidates[0]!;
  if (candidates.length > 1) {
    // The key's encoding in events is undocumented: use the reading that exists in the bucket.
    for (const c of candidates) {
      if (await deps.objects.head(c.key)) {
        chosen = c;
        break;
      }
    }
  }
  const jobs = new Jobs(deps.rows);
  if (chosen.kind.kind === 'defaults') {
    const released = await releaseAwaiting(deps, jobs, chosen.kind.folder);
    return { key: chosen.key, action: 'released', detail: `${released} waiting job(s) re-evaluated` };
  }
  const eTag = record.oss.object.eTag;
  // The event orders this upload among others of the same second (intake.ts pickJobFiles).
  const event = chosen.kind.kind === 'sketch' ? { key: chosen.key, ...(eTag ? { etag: eTag } : {}) } : undefined;
  const outcome = await evaluateJob(deps, jobs, chosen.kind.jobKey, event);
  return { key: chosen.key, ...outcome };
}

/**
 * Brings the job's row in line with the bucket. Loops on lost races: each pass writes the version
 * it has just observed in the bucket, so the newest upload always wins (SPEC §1, invariant 5).
 */
export async function evaluateJob(deps: CoreDeps, jobs: Jobs, jobKey: string, event?: UploadEvent): Promise<Omit<SubmitOutcome, 'key'>> {
  const jobId = jobIdOf(jobKey);
  for (let attempt = 0; attempt < 6; attempt++) {
    const row = await jobs.getJob(jobId);
    const generation = row?.value.generation ?? 0;
    const files = await listJobFiles(deps, jobKey, { ...(row?.value.uploads ? { order: row.value.uploads } : {}), ...(event ? { event } : {}) });
    if (!files.sketch) return { action: 'no-sketch', jobKey, detail: 'no sketch with this name yet' };
    const sketchFiles = { ...files, sketch: files.sketch };
    const versionId = versionIdFor(sketchFiles, generation);
    const current = row?.value.current;
    const keepOrder = async () => {
      // The same version, but the look learnt how same-second uploads are ordered: keep that.
      if (files.orderChanged) await jobs.putJob(jobId, { ...row!.value, uploads: files.order }, row!.rev);
    };
    if (current && current.id === versionId && current.state !== 'AWAITING_PROMPT') {
      if (!(await written(keepOrder))) continue;
      await resume(deps, jobs, row!.value, current);
      return { action: 'duplicate', jobKey, state: current.state };
    }
    let next: VersionRecord;
    try {
      next = await buildVersion(deps, jobKey, sketchFiles, generation);
    } catch (err) {
      if (err instanceof FilesChanged) continue; // a newer upload (or a delete) came in: look again
      throw err;
    }
    if (current && current.id === versionId && next.state === 'AWAITING_PROMPT') {
      if (!(await written(keepOrder))) continue;
      return { action: 'duplicate', jobKey, state: current.state };
    }
    await checkpoint(deps, 'submit:version-built', jobKey);
    const now = deps.clock.now();
    if (next.state === 'QUEUED') {
      next.queuedAt = now;
      await jobs.enqueue(now, { jobId, jobKey, versionId, model: modelOf(next) });
    }
    await jobs.markActive({ jobId, jobKey, versionId, since: now });
    const replaced = current && current.id !== versionId ? current : undefined;
    const previous = [...(row?.value.previous ?? [])];
    if (replaced) {
      previous.push({ id: replaced.id, state: isTerminal(replaced.state) ? replaced.state : 'SUPERSEDED', taskId: replaced.taskId, at: now });
    }
    // The outputs lease outlives the version that took it: a slow writer of the replaced version
    // may still be at work, and the new one must wait for it (records.ts).
    const outputs = row?.value.outputs;
    const job: JobRecord = { jobKey, current: next, previous: previous.slice(-5), ...(generation ? { generation } : {}), uploads: files.order, ...(outputs ? { outputs } : {}) };
    try {
      await jobs.putJob(jobId, job, row?.rev);
    } catch (err) {
      if (err instanceof ConditionFailedError) continue; // another event got there first: look again
      throw err;
    }
    await checkpoint(deps, 'submit:version-recorded', jobKey);
    if (replaced && !isTerminal(replaced.state)) {
      logState(deps, jobKey, { ...replaced, state: 'SUPERSEDED' }, { supersededBy: versionId });
      await jobs.clearActive(jobId, replaced.id);
    }
    logState(deps, jobKey, next);
    await afterRecord(deps, jobs, jobKey, jobId, next);
    return { action: 'recorded', jobKey, state: next.state };
  }
  throw new ConditionFailedError(`${jobKey}: the job kept changing while it was being recorded`);
}

/** Runs a conditional write; false when another writer got there first (look again). */
async function written(write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (err instanceof ConditionFailedError) return false;
    throw err;
  }
}

/** Continues a recorded version after a crash or duplicate delivery: each step is idempotent. */
async function resume(deps: CoreDeps, jobs: Jobs, job: JobRecord, v: VersionRecord): Promise<void> {
  const jobId = jobIdOf(job.jobKey);
  if (v.state === 'FINALIZING' && !v.taskId && v.error) {
    await completeUnlessBusy(deps, jobs, job.jobKey, jobId, v, v.outcome ?? failureOutcome(v.error));
  } else if (v.state === 'QUEUED') {
    await jobs.enqueue(v.queuedAt ?? deps.clock.now(), { jobId, jobKey: job.jobKey, versionId: v.id, model: modelOf(v) });
    await startWork(deps, jobs, modelOf(v));
  }
}

async function afterRecord(deps: CoreDeps, jobs: Jobs, jobKey: string, jobId: string, v: VersionRecord): Promise<void> {
  if (v.state === 'FINALIZING' && v.error) {
    await completeUnlessBusy(deps, jobs, jobKey, jobId, v, failureOutcome(v.error));
  } else if (v.state === 'QUEUED') {
    await startWork(deps, jobs, modelOf(v));
  }
}

/**
 * A failure decided at intake gets its manifest now, unless another invocation (a duplicate
 * delivery, the backfill) is writing this job's outputs: that one finishes it, and if it stops,
 * the poller's sweep does once its lease ends. Either way the decision is already stored.
 */
async function completeUnlessBusy(deps: CoreDeps, jobs: Jobs, jobKey: string, jobId: string, v: VersionRecord, outcome: Outcome): Promise<void> {
  try {
    await completeVersion(deps, jobs, jobId, v.id, outcome);
  } catch (err) {
    if (!(err instanceof OutputsBusyError)) throw err;
    deps.log.info('another invocation is writing this version\'s outputs; left to it', { jobKey, version: v.id, state: v.state });
  }
}

/** Submit at once if a slot of its model is free (SPEC §4), and make sure a poller is there to follow up. */
async function startWork(deps: CoreDeps, jobs: Jobs, model: string): Promise<void> {
  await fillSlots(deps, jobs, { maxSubmissions: 1, models: [model] });
  if (deps.kicker && !(await jobs.pollerScheduled(deps.clock.now()))) {
    await deps.kicker.kick('submit').catch((err: unknown) => deps.log.warn('poller kick failed', { error: err }));
  }
}

/** A `_defaults.json` upload releases only its subtree's jobs that still wait for a prompt. */
export async function releaseAwaiting(deps: CoreDeps, jobs: Jobs, folder: string): Promise<number> {
  let released = 0;
  const seen = new Set<string>();
  for (const row of await jobs.listActive()) {
    const { jobKey, jobId, versionId } = row.value;
    if (!jobKey.startsWith(folder) || seen.has(jobId)) continue;
    seen.add(jobId);
    const job = await jobs.getJob(jobId);
    if (job?.value.current.id !== versionId || job.value.current.state !== 'AWAITING_PROMPT') continue;
    await evaluateJob(deps, jobs, jobKey);
    released++;
  }
  return released;
}
