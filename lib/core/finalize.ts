/**
 * Finalizing a version (SPEC §4): results are streamed into `<stem>.result-i.png`, then the
 * manifest is written, then the job is marked terminal. Each step can be repeated after a crash;
 * the manifest is written last so its presence always means "finished".
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import { isoTime } from '../contract/dashscope-time.js';
import { manifestKey, resultImageKey } from '../contract/keys.js';
import { ManifestSchema, type Manifest, type ManifestResult } from '../contract/manifest.js';
import { asError, ResultDownloadError, TransportError } from '../errors.js';
import { redact, redactDeep } from '../redact.js';
import { PIPELINE_VERSION } from '../version.js';
import { checkpoint, outputsLeaseUntil, type CoreDeps } from './deps.js';
import type { Jobs, SlotAt } from './jobs.js';
import { logState, logStateOf } from './journal.js';
import type { TaskView } from './ports.js';
import { FREE_SLOT, isTerminal, modelOf, type ErrorInfo, type Outcome, type VersionRecord } from './records.js';
import { dropStaging, dropStagingOf } from './staging.js';

const DOWNLOAD_TRIES = 3;
/**
 * How long after a task ended a failing result download is retried on later passes before the
 * image is given up (result URLs live 24 h; a paid image must not be lost to a network blip).
 */
export const RESULT_RETRY_WINDOW_MS = 10 * 60_000;

export function buildManifest(v: VersionRecord, outcome: Outcome, now: number): Manifest {
  const manifest: Manifest = {
    status: outcome.status,
    source: { key: v.sketch.key, etag: v.sketch.etag, ...(v.sketch.lastModified ? { lastModified: v.sketch.lastModified } : {}), ...(v.sidecar ? { sidecar: v.sidecar } : {}) },
    ...(v.request
      ? { request: { model: modelOf(v), prompt: v.request.prompt, parameters: { ...v.request.parameters }, normalized: v.request.normalized } }
      : {}),
    ...(v.attempts > 0 || v.taskId
      ? {
          task: {
            ...(v.taskId ? { id: v.taskId } : {}),
            attempts: v.attempts,
            ...(v.submittedAt ? { submittedAt: v.submittedAt } : {}),
            ...(v.startedAt ? { startedAt: v.startedAt } : {}),
            ...(v.endedAt ? { endedAt: v.endedAt } : {}),
          },
        }
      : {}),
    results: outcome.results,
    usage: { imageCount: outcome.imageCount },
    warnings: v.warnings,
    ...(outcome.error ? { error: outcome.error } : {}),
    finishedAt: isoTime(now),
    pipelineVersion: PIPELINE_VERSION,
  };
  return ManifestSchema.parse(redactDeep(manifest));
}

function countingStream(counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/**
 * Streams each result image into the bucket (never buffering it whole). A transient failure
 * within RESULT_RETRY_WINDOW_MS of `endedAt` (when we saw the task end) throws, so the caller tries the whole copy again
 * on a later pass; an expired or missing URL, or a failure after the window, is recorded as the
 * image's error.
 */
export async function copyResults(deps: CoreDeps, jobKey: string, view: TaskView, endedAt: number): Promise<ManifestResult[]> {
  const out: ManifestResult[] = [];
  for (const [i, result] of view.results.entries()) {
    const index = i + 1;
    if (!('url' in result)) {
      out.push({ index, error: { code: result.code, message: redact(result.message) } });
      continue;
    }
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= DOWNLOAD_TRIES; attempt++) {
      try {
        const { body, contentLength } = await deps.model.downloadResult(result.url);
        const counter = { bytes: 0 };
        const piped: Readable = body.pipe(countingStream(counter)).pipe(new PassThrough());
        body.on('error', (err) => piped.destroy(err));
        const key = resultImageKey(jobKey, index);
        await deps.objects.put(key, piped, { contentType: 'image/png', contentLength });
        out.push({ index, key, bytes: counter.bytes });
        lastError = undefined;
        break;
      } catch (err) {
        lastError = asError(err);
        deps.log.warn('result download failed', { jobKey, index, attempt, error: lastError });
        if (attempt < DOWNLOAD_TRIES) await deps.clock.sleep(200 * attempt);
      }
    }
    if (lastError) {
      const permanent = lastError instanceof ResultDownloadError && lastError.permanent;
      if (!permanent && deps.clock.now() - endedAt < RESULT_RETRY_WINDOW_MS) throw lastError;
      out.push({ index, error: { code: 'ResultDownloadFailed', message: redact(`result ${index} could not be copied: ${lastError.message}`) } });
    }
  }
  return out;
}

/** The outcome of a task that DashScope finished, after its images are copied. */
export function outcomeOf(view: TaskView, results: ManifestResult[]): Outcome {
  const ok = results.filter((r) => r.key).length;
  if (view.status === 'CANCELED') return { status: 'CANCELED', results, imageCount: view.imageCount, error: { code: 'Canceled', message: 'the task was canceled at DashScope' } };
  if (view.status === 'FAILED') {
    return { status: 'FAILED', results, imageCount: view.imageCount, error: { code: view.code ?? 'TaskFailed', message: redact(view.message ?? 'DashScope reported the task as FAILED') } };
  }
  if (ok === results.length && ok > 0) return { status: 'SUCCEEDED', results, imageCount: view.imageCount };
  if (ok > 0) return { status: 'PARTIAL', results, imageCount: view.imageCount };
  const firstError = results.find((r) => r.error)?.error ?? { code: 'NoResults', message: 'DashScope returned no images' };
  return { status: 'FAILED', results, imageCount: view.imageCount, error: firstError };
}

export function failureOutcome(error: ErrorInfo): Outcome {
  return { status: 'FAILED', results: [], imageCount: 0, error: { code: error.code, message: redact(error.message) } };
}

/** Removes `result-k.png` files that the newest outcome did not write (an older version had more). */
async function removeStaleOutputs(deps: CoreDeps, jobKey: string, outcome: Outcome): Promise<void> {
  const keep = new Set(outcome.results.map((r) => r.key).filter((k): k is string => Boolean(k)));
  const prefix = `${jobKey}.result-`;
  for (const obj of await deps.objects.list(prefix)) {
    if (/^\d+\.png$/.test(obj.key.slice(prefix.length)) && !keep.has(obj.key)) await deps.objects.delete(obj.key);
  }
}

/**
 * Writes the manifest for a version whose outcome is decided and marks the job terminal.
 * Returns false if a newer version took over (nothing written, the caller just lets go).
 */
export function completeVersion(...args: Parameters<typeof completeUnderLease>): Promise<boolean> {
  const [deps, jobs, jobId, versionId] = args;
  return givingBackOnError(deps, jobs, jobId, versionId, () => completeUnderLease(...args));
}

/**
 * Runs a writer's work on a version's outputs. Stopped by an error, the writer gives the outputs
 * lease back at once (the next writer, another invocation, need not wait for this one's deadline),
 * unless a write of it may still land: sent with no answer (a timeout, a dropped connection).
 * A crash runs no catch at all: its lease ends at its deadline.
 */
export async function givingBackOnError<T>(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof OutputsBusyError) && !mayStillLand(err)) {
      await jobs.releaseOutputs(jobId, versionId, deps.owner).catch((e: unknown) => deps.log.warn('giving the outputs lease back failed; it ends at its deadline', { jobId, version: versionId, error: asError(e) }));
    }
    throw err;
  }
}

/** An OSS request of ours that was sent and got no answer may still be applied later. */
function mayStillLand(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof TransportError && e.service === 'oss' && e.sent) return true;
  }
  return false;
}

async function completeUnderLease(
  deps: CoreDeps,
  jobs: Jobs,
  jobId: string,
  versionId: string,
  outcome: Outcome,
  slot?: SlotAt & { rev: number },
  /** The decision holds only while this is true of the version (e.g. it still follows a task). */
  guard?: (v: VersionRecord) => boolean,
  /** Runs after the manifest, before the version is terminal: a failure here is resumed with it. */
  afterManifest?: () => Promise<void>,
): Promise<boolean> {
  // Persist the decision first: a crash from here on resumes with the same outcome.
  let finishedMeanwhile = false;
  let movedOn = false;
  const decided = await jobs.updateVersion(jobId, versionId, (v) => {
    movedOn = false;
    finishedMeanwhile = false;
    if (guard && !(v.state === 'FINALIZING' && v.outcome) && !isTerminal(v.state) && !guard(v)) {
      movedOn = true; // still current, but no longer in the state this outcome was decided for
      return undefined;
    }
    if (isTerminal(v.state)) {
      // Already finished (a replay, a crash after the last write, or another invocation):
      // only bookkeeping is left.
      finishedMeanwhile = true;
      return undefined;
    }
    return v.state === 'FINALIZING' && v.outcome ? v : { ...v, state: 'FINALIZING', outcome, updatedAt: deps.clock.now() };
  });
  if (finishedMeanwhile) {
    await jobs.releaseOutputs(jobId, versionId, deps.owner);
    await jobs.clearActive(jobId, versionId);
    if (slot) await jobs.putSlot(slot, slot.rev, FREE_SLOT);
    return true;
  }
  if (movedOn) {
    await jobs.releaseOutputs(jobId, versionId, deps.owner); // taken before the copy, if it was
    return false;
  }
  if (!decided) {
    await releaseStale(deps, jobs, jobId, versionId, slot);
    return false;
  }
  const version = decided.job.current;
  const jobKey = decided.job.jobKey;
  const finalOutcome = version.outcome ?? outcome;
  await checkpoint(deps, 'finalize:decided', jobKey);
  // Outputs are written under the job's outputs lease (records.ts): no other version's writer,
  // however slow, can delete or overwrite them meanwhile, nor can this one overwrite a newer's.
  if (!(await holdOutputsOrWait(deps, jobs, jobId, versionId))) {
    await releaseStale(deps, jobs, jobId, versionId, slot);
    return false;
  }
  // Before the job is terminal, so a crash here is resumed (FINALIZING) and the copy still goes.
  await dropStaging(deps, jobId, version);
  await removeStaleOutputs(deps, jobKey, finalOutcome);
  const now = deps.clock.now();
  // Check once more right before the manifest: a newer version's outputs must never be overwritten.
  const latest = await jobs.getJob(jobId);
  if (!latest || latest.value.current.id !== versionId) {
    await releaseStale(deps, jobs, jobId, versionId, slot);
    return false;
  }
  const manifest = buildManifest(version, finalOutcome, now);
  await deps.objects.put(manifestKey(jobKey), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { contentType: 'application/json' });
  await checkpoint(deps, 'finalize:manifest-written', jobKey);
  await afterManifest?.();
  // Only a version not yet terminal becomes terminal: an invocation that took over while this one
  // was slow may have finished it already (one state line per change).
  const done = await jobs.updateVersion(
    jobId,
    versionId,
    (v) => (isTerminal(v.state) ? undefined : { ...v, state: finalOutcome.status, error: finalOutcome.error, updatedAt: deps.clock.now() }),
    { jobFields: (job) => (job.outputs?.versionId === versionId ? { outputs: undefined } : {}) },
  );
  if (done) logState(deps, jobKey, done.job.current, { manifest: manifestKey(jobKey), imageCount: finalOutcome.imageCount });
  // Not written (a newer version came in, or another invocation finished it): the newer version's
  // writer waits for this lease, so give it back now rather than at this invocation's deadline.
  else await jobs.releaseOutputs(jobId, versionId, deps.owner);
  await jobs.clearActive(jobId, versionId);
  if (slot) await jobs.putSlot(slot, slot.rev, FREE_SLOT);
  return true;
}

/** Another writer may still be at work on the job's outputs: finalize on a later pass. */
export class OutputsBusyError extends Error {
  override readonly name = 'OutputsBusyError';
  constructor(
    message: string,
    /** When the other writer's lease ends at the latest. */
    readonly until: number,
  ) {
    super(message);
  }
}

/**
 * Takes the outputs lease for `versionId` in this invocation (or finds it ours): true to go on,
 * false when a newer version took over; throws OutputsBusyError while another writer's runs.
 */
export async function holdOutputsOrWait(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string): Promise<boolean> {
  const verdict = await jobs.holdOutputs(jobId, versionId, deps.owner, outputsLeaseUntil(deps), deps.clock.now());
  if (typeof verdict === 'object') {
    const left = Math.max(0, Math.ceil((verdict.busyUntil - deps.clock.now()) / 1000));
    throw new OutputsBusyError(`job ${jobId}: another writer is still at its outputs (version ${verdict.versionId}, invocation ${verdict.owner}, lease ends in ${left} s)`, verdict.busyUntil);
  }
  return verdict === 'held';
}

/** A version that lost to a newer one: its bookkeeping rows go, its results are discarded. */
export async function releaseStale(deps: CoreDeps, jobs: Jobs, jobId: string, versionId: string, slot?: SlotAt & { rev: number }): Promise<void> {
  const row = await jobs.getJob(jobId);
  // While the slot still holds the task, so a crash before it is freed repeats this.
  if (row) await dropStagingOf(deps, jobId, row.value.jobKey, versionId);
  // The newer version's writer waits for this lease (taken with FINALIZING, kept by the submit
  // that recorded the newer version): give it back now rather than at the invocation's deadline.
  if (row?.value.outputs?.versionId === versionId && row.value.outputs.owner === deps.owner) await jobs.releaseOutputs(jobId, versionId, deps.owner, row);
  await jobs.clearActive(jobId, versionId);
  if (slot) await jobs.putSlot(slot, slot.rev, FREE_SLOT);
  logStateOf(deps, row?.value.jobKey ?? jobId, versionId, 'SUPERSEDED', { supersededBy: row?.value.current.id });
}
