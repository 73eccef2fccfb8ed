/**
 * Uploads no event delivered (issue 13 run 8): Function Compute gives an OSS event up after its
 * async retries (Tablestore down for longer than that, a bad deployment), and nothing else would
 * ever look at that sketch again. So each poller invocation reads one page of the watched prefix,
 * in key order from where the last one stopped, and evaluates every sketch whose newest files no
 * job row records. A job whose manifest is newer than all its files is finished and costs no
 * table read, so a page of finished work costs one OSS list request.
 */
import { classifyKey, jobIdOf, manifestKey } from '../contract/keys.js';
import { asError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import { listJobFiles, pickJobFiles, versionIdFor } from './intake.js';
import { KIND, type JobRecord } from './records.js';
import type { Jobs } from './jobs.js';
import type { ObjectSummary, StoredRow } from './ports.js';
import { STAGING_SWEEP_INTERVAL_MS, sweepStaging, type StagingSweepReport } from './staging.js';
import { evaluateJob } from './submit.js';

/** Keys per catch-up page: one OSS list request, a bounded batch of row reads. */
export const CATCH_UP_PAGE = 500;

export interface CatchUpReport {
  listed: number;
  checked: number;
  recovered: string[];
  /** Where the next page starts; undefined when this page reached the end (the next one restarts). */
  after?: string;
  /** Set when this pass also swept the staging folder. */
  staging?: StagingSweepReport;
}

/**
 * Jobs on a page of objects whose files may not all be recorded: no manifest, or a sketch or
 * sidecar at least as new as it (whole-second times: equal counts as newer).
 */
export function unfinishedOnPage(prefix: string, objects: ObjectSummary[], stagingPrefix?: string): Map<string, ObjectSummary[]> {
  const files = new Map<string, ObjectSummary[]>();
  const manifests = new Map<string, number>();
  for (const o of objects) {
    const kind = classifyKey(o.key, prefix, stagingPrefix);
    if (kind.kind === 'sketch' || kind.kind === 'sidecar') files.set(kind.jobKey, [...(files.get(kind.jobKey) ?? []), o]);
    else if (kind.kind === 'output' && o.key === manifestKey(kind.jobKey)) manifests.set(kind.jobKey, o.lastModified);
  }
  for (const [jobKey, list] of files) {
    const finishedAt = manifests.get(jobKey);
    if (finishedAt !== undefined && list.every((o) => o.lastModified < finishedAt)) files.delete(jobKey);
  }
  return files;
}

/**
 * The jobs among `objects` whose newest sketch and sidecar no job row records as its current
 * version, in key order. Only jobs not plainly finished cost a row read, and not even those whose
 * row this invocation has just read (`known`, from the sweep: a row a moment old can only make a
 * recorded job look unrecorded, and evaluateJob then finds it a duplicate). (A listing cut in the
 * middle of a job's files may name a recorded job too: evaluateJob lists it whole and decides.)
 */
export async function unrecordedJobs(deps: CoreDeps, jobs: Jobs, objects: ObjectSummary[], known?: ReadonlyMap<string, StoredRow<JobRecord>>): Promise<string[]> {
  const { sketchPrefix: prefix, stagingPrefix } = deps.config;
  const candidates = unfinishedOnPage(prefix, objects, stagingPrefix);
  if (candidates.size === 0) return [];
  const ids = [...candidates.keys()].map(jobIdOf);
  const rows = new Map<string, StoredRow<JobRecord>>();
  for (const id of ids) if (known?.has(id)) rows.set(id, known.get(id)!);
  const missing = ids.filter((id) => !rows.has(id));
  if (missing.length > 0) for (const [id, row] of await jobs.rows.getMany<JobRecord>(KIND.job, missing)) rows.set(id, row);
  const out: string[] = [];
  for (const [jobKey, files] of candidates) {
    const row = rows.get(jobIdOf(jobKey));
    const picked = pickJobFiles(jobKey, prefix, files, { stagingPrefix, ...(row?.value.uploads ? { order: row.value.uploads } : {}) });
    if (!picked.sketch) continue;
    if (row && row.value.current.id === versionIdFor({ ...picked, sketch: picked.sketch }, row.value.generation ?? 0)) continue;
    out.push(jobKey);
  }
  return out.sort();
}

/**
 * After a version's manifest is written: were the job's files replaced while it was in flight?
 * Normally that upload's own event records the newer version; if every delivery of it failed, the
 * catch-up listing would take the (newer) manifest for "finished" — so look now, once: one listing.
 */
export async function recordNewerUpload(deps: CoreDeps, jobs: Jobs, jobKey: string, versionId: string, generation = 0): Promise<void> {
  const files = await listJobFiles(deps, jobKey);
  if (!files.sketch || versionIdFor({ ...files, sketch: files.sketch }, generation) === versionId) return;
  const outcome = await evaluateJob(deps, jobs, jobKey);
  if (outcome.action === 'recorded') deps.log.info('a newer upload, found as its older version finished', { jobKey, state: outcome.state });
}

export async function catchUpPage(deps: CoreDeps, jobs: Jobs, pageSize = CATCH_UP_PAGE, known?: ReadonlyMap<string, StoredRow<JobRecord>>): Promise<CatchUpReport> {
  const cursor = await jobs.scanCursor();
  const page = await deps.objects.listPage(deps.config.sketchPrefix, { ...(cursor.after ? { after: cursor.after } : {}), limit: pageSize });
  const unrecorded = await unrecordedJobs(deps, jobs, page.objects, known);
  const report: CatchUpReport = { listed: page.objects.length, checked: unrecorded.length, recovered: [], ...(page.next ? { after: page.next } : {}) };
  for (const jobKey of unrecorded) {
    const outcome = await evaluateJob(deps, jobs, jobKey);
    if (outcome.action === 'recorded') {
      report.recovered.push(jobKey);
      deps.log.warn('upload recorded by the catch-up listing: no event for it was handled', { jobKey, state: outcome.state });
    }
  }
  // Once the listing has gone round the whole prefix, and at most hourly: staging copies no version
  // needs any more (left by a crash, or by a version that ended an unusual way) are removed.
  let stagingSweptAt = cursor.stagingSweptAt;
  const now = deps.clock.now();
  if (!page.next && (stagingSweptAt === undefined || now - stagingSweptAt >= STAGING_SWEEP_INTERVAL_MS)) {
    try {
      report.staging = await sweepStaging(deps, jobs);
    } catch (err) {
      deps.log.warn('staging sweep failed; the next one is in an hour', { error: asError(err) });
    }
    stagingSweptAt = now;
  }
  if (cursor.after !== page.next || cursor.stagingSweptAt !== stagingSweptAt) {
    await jobs.setScanCursor({ ...(page.next ? { after: page.next } : {}), ...(stagingSweptAt !== undefined ? { stagingSweptAt } : {}) });
  }
  return report;
}
