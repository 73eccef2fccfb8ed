/**
 * Sketches whose keys cannot go into DashScope's URL (SPEC §1 naming rule: CJK — the API reference
 * forbids Chinese characters in the URL —, emoji, spaces, `%`, `#`, `?`, …) are sent from an ASCII
 * staging copy: a server-side CopyObject just before the create (no pixels through the function),
 * presigned with the same `x-oss-process` view. Results and manifest still go next to the sketch
 * under its own name. A copy lives while its version may still be fetched:
 *   - finished or failed: removed before the manifest (finalize.ts), while FINALIZING still resumes;
 *   - superseded: removed when its task is let go (finalize.ts `releaseStale`, track.ts);
 *   - anything a crash, a failed cleanup or an unusual path left: the hourly sweep of the folder.
 * Staging copies are outside SKETCH_PREFIX (config.ts) or ignored by classifyKey, and CopyObject is
 * not an event the trigger subscribes to: they never cause work (SPEC §4 invariant 4).
 */
import { needsStaging, parseStagingKey, stagingFolderOf, stagingKeyOf } from '../contract/keys.js';
import { asError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import type { Jobs } from './jobs.js';
import { isTerminal, KIND, type JobRecord, type VersionRecord } from './records.js';

/** How often the catch-up listing also sweeps the staging folder (one List request each time). */
export const STAGING_SWEEP_INTERVAL_MS = 3600_000;

type Staged = Pick<VersionRecord, 'id' | 'sketch'>;

/** The key DashScope fetches for a claimed version: the sketch itself, or its staging copy (made now). */
export async function stageSketch(deps: CoreDeps, jobId: string, v: Staged): Promise<string> {
  if (!needsStaging(v.sketch.key)) return v.sketch.key;
  const staged = stagingKeyOf(deps.config.stagingPrefix, jobId, v.id, v.sketch.key);
  // Made again for every create of the version (a resubmission after a lost task): one request,
  // and the copy is the sketch as it is now, exactly as a URL of the sketch itself would be.
  const copied = await deps.objects.copy(v.sketch.key, staged);
  if (!copied) deps.log.warn('the sketch was deleted before its staging copy; DashScope will not find it', { version: v.id, staged });
  return staged;
}

/**
 * Removes a version's staging copy: one DeleteObject for a key that needs staging (whether or not a
 * create was made: a refused one gives its attempt back), none for any other key.
 */
export async function dropStaging(deps: CoreDeps, jobId: string, v: Staged): Promise<void> {
  if (!needsStaging(v.sketch.key)) return;
  await bestEffort(deps, v.id, () => deps.objects.delete(stagingKeyOf(deps.config.stagingPrefix, jobId, v.id, v.sketch.key)));
}

/**
 * The same for a version known only by id (a superseded one, whose record is gone from the row):
 * one listing of its staging folder. Sketch extensions are plain ASCII, so the job key alone says
 * whether its sketches are staged; other jobs cost no request.
 */
export async function dropStagingOf(deps: CoreDeps, jobId: string, jobKey: string, versionId: string): Promise<void> {
  if (!needsStaging(jobKey)) return;
  await bestEffort(deps, versionId, async () => {
    for (const o of await deps.objects.list(stagingFolderOf(deps.config.stagingPrefix, jobId, versionId))) await deps.objects.delete(o.key);
  });
}

/**
 * A cleanup that fails (OSS down, a policy without the staging grant) must not hold up a manifest
 * or a slot: the hourly sweep removes what is left.
 */
async function bestEffort(deps: CoreDeps, versionId: string, cleanup: () => Promise<void>): Promise<void> {
  try {
    await cleanup();
  } catch (err) {
    deps.log.warn('staging copy not removed; the hourly sweep will', { version: versionId, error: asError(err) });
  }
}

export interface StagingSweepReport {
  listed: number;
  removed: string[];
}

/**
 * Removes every staging copy whose version no longer needs it: not the job's current version, or
 * finished. A copy of a superseded version that DashScope has not fetched yet may go too: that
 * version's results would be discarded anyway. Keys sketchflow did not name are left alone.
 */
export async function sweepStaging(deps: CoreDeps, jobs: Jobs): Promise<StagingSweepReport> {
  const prefix = deps.config.stagingPrefix;
  const objects = await deps.objects.list(prefix);
  const named = objects.map((o) => ({ key: o.key, owner: parseStagingKey(prefix, o.key) })).filter((o): o is { key: string; owner: { jobId: string; versionId: string } } => !!o.owner);
  const report: StagingSweepReport = { listed: objects.length, removed: [] };
  if (named.length === 0) return report;
  const rows = await jobs.rows.getMany<JobRecord>(KIND.job, [...new Set(named.map((o) => o.owner.jobId))]);
  for (const { key, owner } of named) {
    const current = rows.get(owner.jobId)?.value.current;
    if (current && current.id === owner.versionId && !isTerminal(current.state)) continue;
    await deps.objects.delete(key);
    report.removed.push(key);
  }
  if (report.removed.length > 0) deps.log.info('staging copies no version needs were removed', { count: report.removed.length });
  return report;
}
