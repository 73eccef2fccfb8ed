/**
 * From bucket state to a job version (SPEC §1–§3): which sketch and sidecar make the job now,
 * what request they resolve to, and whether the sketch passes the checks before money is spent.
 */
import { belongsToJob, classifyKey, defaultsChain, splitKey, versionIdOf, wholeSecond } from '../contract/keys.js';
import { checkSketchBytes, planSketchView, SKETCH_MAX_BYTES, SNIFF_HEAD_BYTES, SNIFF_TAIL_BYTES } from '../contract/image-check.js';
import { resolveModel, resolveRequest, type RequestSources } from '../contract/request.js';
import { parseSidecarJson, parseSidecarTxt, SIDECAR_MAX_BYTES, type SidecarLayer } from '../contract/sidecar.js';
import { costMilliCny } from '../models/index.js';
import { InputError, ObjectStoreError } from '../errors.js';
import { budgetNeverFits } from './lifecycle/index.js';
import { budgetLimits } from './jobs.js';
import { lifecycleCtx, type CoreDeps } from './deps.js';
import type { ObjectSummary } from './ports.js';
import type { SeenUpload, UploadOrder, VersionRecord } from './records.js';

export interface JobFiles {
  sketch?: ObjectSummary;
  sidecar?: ObjectSummary & { format: 'json' | 'txt' };
  warnings: string[];
  /** The order of the job's sketch uploads after this look (to keep in the job row). */
  order: UploadOrder;
  /** Whether this look learnt something the job row does not hold yet (worth writing). */
  orderChanged: boolean;
}

/** The upload an event announced (its key as stored, and its ETag when the event carries one). */
export interface UploadEvent {
  key: string;
  etag?: string;
}

export interface PickOptions {
  /** What the job row remembers of earlier looks. */
  order?: UploadOrder;
  /** The upload whose event this look handles. */
  event?: UploadEvent;
  stagingPrefix?: string;
}

const sameEtag = (a: string, b: string) => a.replace(/"/g, '').toUpperCase() === b.replace(/"/g, '').toUpperCase();

/**
 * The job's current files, from one listing. If several sketches share the stem (`cat.png` and
 * `cat.jpg`) the newest upload is the job; `.json` beats `.txt`.
 *
 * "Newest" on the real service: OSS dates uploads in whole seconds (listings, Last-Modified and
 * events alike) and records nothing else that orders two uploads of one second (SPEC §1), so ties
 * are broken by what the pipeline observed, kept in the job row (`order`):
 *   1. the later Last-Modified second wins;
 *   2. in one second, the upload first listed by a later look wins: it was not there before;
 *   3. listed first by the same look, an upload whose own event has not been handled yet wins over
 *      one whose event has (OSS sends each event after its upload, so with events arriving in order
 *      the one still to come was uploaded later), and otherwise the one whose event came last;
 *   4. the key, for a stable answer when nothing else tells.
 * A redelivered event changes nothing (each upload's event is counted once), and an event whose
 * ETag is not the object's any more (an older upload of the key) counts for nothing.
 */
export function pickJobFiles(jobKey: string, prefix: string, listing: ObjectSummary[], options: PickOptions = {}): JobFiles {
  const sketches: ObjectSummary[] = [];
  const sidecars: Array<ObjectSummary & { format: 'json' | 'txt' }> = [];
  for (const obj of listing) {
    if (!belongsToJob(obj.key, jobKey)) continue;
    const kind = classifyKey(obj.key, prefix, options.stagingPrefix);
    if (kind.kind === 'sketch') sketches.push(obj);
    else if (kind.kind === 'sidecar') sidecars.push({ ...obj, format: kind.format });
  }
  const known = options.order ?? { looks: 0, uploads: [] };
  const look = known.looks + 1;
  let changed = false;
  const seen = sketches.map((obj) => {
    const second = wholeSecond(obj.lastModified);
    const before = known.uploads.find((u) => u.key === obj.key && u.second === second && sameEtag(u.etag, obj.etag));
    if (!before) changed = true;
    return { obj, upload: before ? { ...before } : ({ key: obj.key, etag: obj.etag, second, seen: look } as SeenUpload) };
  });
  const event = options.event;
  const announced = event ? seen.find((s) => s.obj.key === event.key && (event.etag === undefined || sameEtag(s.obj.etag, event.etag))) : undefined;
  const peers = (a: SeenUpload, b: SeenUpload) => a !== b && a.second === b.second && a.seen === b.seen;
  if (announced && announced.upload.event === undefined && seen.some((s) => peers(s.upload, announced.upload))) {
    announced.upload.event = look;
    changed = true;
  }
  const eventRank = (u: SeenUpload) => u.event ?? Number.POSITIVE_INFINITY;
  seen.sort(
    (a, b) =>
      b.upload.second - a.upload.second ||
      b.upload.seen - a.upload.seen ||
      eventRank(b.upload) - eventRank(a.upload) ||
      (a.obj.key < b.obj.key ? -1 : a.obj.key > b.obj.key ? 1 : 0),
  );
  sidecars.sort((a, b) => (a.format === b.format ? 0 : a.format === 'json' ? -1 : 1));
  const warnings: string[] = [];
  if (seen.length > 1) {
    const sameSecond = seen[1]!.upload.second === seen[0]!.upload.second;
    warnings.push(
      `several sketches share this name (${seen.map((s) => splitKey(s.obj.key).name).join(', ')}); the newest, ${splitKey(seen[0]!.obj.key).name}, was used${sameSecond ? ' (uploaded in the same second: ordered by when sketchflow saw them)' : ''}`,
    );
  }
  if (sidecars.length > 1) warnings.push(`both ${sidecars.map((s) => splitKey(s.key).name).join(' and ')} exist; ${splitKey(sidecars[0]!.key).name} was used`);
  const order: UploadOrder = { looks: changed ? look : known.looks, uploads: seen.map((s) => s.upload) };
  return { sketch: seen[0]?.obj, sidecar: sidecars[0], warnings, order, orderChanged: changed };
}

export async function listJobFiles(deps: CoreDeps, jobKey: string, options: Omit<PickOptions, 'stagingPrefix'> = {}): Promise<JobFiles> {
  return pickJobFiles(jobKey, deps.config.sketchPrefix, await deps.objects.list(`${jobKey}.`), { ...options, stagingPrefix: deps.config.stagingPrefix });
}

/** The version these files make (SPEC §1): each file's key, ETag and Last-Modified second. */
export function versionIdFor(files: Required<Pick<JobFiles, 'sketch'>> & Pick<JobFiles, 'sidecar'>, generation = 0): string {
  return versionIdOf({
    sketchKey: files.sketch.key,
    sketchEtag: files.sketch.etag,
    sketchModified: files.sketch.lastModified,
    ...(files.sidecar ? { sidecarKey: files.sidecar.key, sidecarEtag: files.sidecar.etag, sidecarModified: files.sidecar.lastModified } : {}),
    ...(generation ? { generation } : {}),
  });
}

/**
 * The job's files changed while they were being read (a re-upload, a delete): the version being
 * built would mix two uploads, so the caller looks at the bucket again (evaluateJob).
 */
export class FilesChanged extends Error {
  override readonly name = 'FilesChanged';
}

/** A read pinned to the listed upload: a newer upload (412) or a delete in between is FilesChanged. */
async function pinned<T>(key: string, read: () => Promise<T | undefined>): Promise<T> {
  try {
    const value = await read();
    if (value === undefined) throw new FilesChanged(`${key} was deleted while it was being read`);
    return value;
  } catch (err) {
    if (err instanceof ObjectStoreError && err.status === 412) throw new FilesChanged(`${key} changed while it was being read`, { cause: err });
    throw err;
  }
}

/** Reads at most the sidecar limit (+1 byte to notice an oversized file without reading it all). */
async function readSmallObject(deps: CoreDeps, key: string, etag?: string): Promise<{ bytes: Buffer; size: number } | undefined> {
  const bytes = etag ? await pinned(key, () => deps.objects.getRange(key, 0, SIDECAR_MAX_BYTES, { ifMatch: etag })) : await deps.objects.getRange(key, 0, SIDECAR_MAX_BYTES);
  if (!bytes) return undefined;
  return { bytes, size: bytes.length };
}

async function readDefaults(deps: CoreDeps, folder: string): Promise<SidecarLayer[]> {
  const layers: SidecarLayer[] = [];
  for (const key of defaultsChain(folder, deps.config.sketchPrefix)) {
    const file = await readSmallObject(deps, key);
    if (file) layers.push(parseSidecarJson(key, file.bytes, file.size));
  }
  return layers;
}

/** OSS's Last-Modified as the manifest shows it: ISO 8601, whole seconds. */
const isoSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

/**
 * Builds the version record for the job's current files. Input problems become a FINALIZING
 * version carrying the error (the manifest will say what to fix); no prompt anywhere yet becomes
 * AWAITING_PROMPT; otherwise QUEUED with the resolved request.
 */
export async function buildVersion(deps: CoreDeps, jobKey: string, files: Required<Pick<JobFiles, 'sketch'>> & JobFiles, generation = 0): Promise<VersionRecord> {
  const now = deps.clock.now();
  const base: VersionRecord = {
    id: versionIdFor(files, generation),
    sketch: { key: files.sketch.key, etag: files.sketch.etag, size: files.sketch.size, lastModified: isoSecond(files.sketch.lastModified) },
    ...(files.sidecar ? { sidecar: { key: files.sidecar.key, etag: files.sidecar.etag, lastModified: isoSecond(files.sidecar.lastModified) } } : {}),
    state: 'QUEUED',
    createdAt: now,
    updatedAt: now,
    warnings: [...files.warnings],
    attempts: 0,
  };
  try {
    return { ...base, ...(await evaluate(deps, jobKey, files, base.warnings)) };
  } catch (err) {
    if (err instanceof InputError) return { ...base, state: 'FINALIZING', error: { code: err.code, message: err.message } };
    throw err;
  }
}

async function evaluate(deps: CoreDeps, jobKey: string, files: Required<Pick<JobFiles, 'sketch'>> & JobFiles, warnings: string[]): Promise<Partial<VersionRecord>> {
  const { sketch, sidecar } = files;
  // 1. the sketch's bytes: size, format, truncation (cheap: a few bytes from each end)
  if (sketch.size > SKETCH_MAX_BYTES) checkSketchBytes(sketch.key, sketch.size, Buffer.alloc(0), Buffer.alloc(0));
  // Every read of the sketch and the sidecar is pinned to the upload the listing showed (issue 13:
  // a re-upload in between would give a version whose ETag and contents are of two uploads).
  const atUpload = { ifMatch: sketch.etag };
  const head = await pinned(sketch.key, () => deps.objects.getRange(sketch.key, 0, SNIFF_HEAD_BYTES - 1, atUpload));
  const tail = sketch.size > SNIFF_TAIL_BYTES ? await pinned(sketch.key, () => deps.objects.getRange(sketch.key, sketch.size - SNIFF_TAIL_BYTES, sketch.size - 1, atUpload)) : head;
  const format = checkSketchBytes(sketch.key, sketch.size, head, tail);

  // 2. the request: sidecar > metadata > _defaults.json > config
  let sidecarLayer: SidecarLayer | undefined;
  if (sidecar) {
    const file = await readSmallObject(deps, sidecar.key, sidecar.etag);
    if (file) {
      const size = Math.max(sidecar.size, file.size);
      sidecarLayer = sidecar.format === 'json' ? parseSidecarJson(sidecar.key, file.bytes, size) : parseSidecarTxt(sidecar.key, file.bytes, size);
    }
  }
  const meta = (await pinned(sketch.key, () => deps.objects.head(sketch.key, atUpload))).meta;
  const defaults = await readDefaults(deps, splitKey(jobKey).folder);
  const sources: RequestSources = { sidecar: sidecarLayer, metadata: meta, defaults, config: { ...deps.config.defaults, models: deps.config.models } };
  // The model decides what the sketch must be; the request may still wait for a prompt.
  const { spec } = resolveModel(sources);
  const request = resolveRequest(sources);

  // 3. what DashScope will see: as it is, or a normalized view made by OSS
  let info;
  try {
    info = await deps.objects.imageInfo(sketch.key, atUpload);
  } catch (err) {
    if (err instanceof ObjectStoreError && (err.status === 412 || err.status === 404)) throw new FilesChanged(`${sketch.key} changed or went away while it was being read`, { cause: err });
    // Only OSS failing to decode the bytes is the user's file; a missing permission, a sketch
    // deleted meanwhile or an odd reply is ours to retry (issue 13 run 7).
    if (lifecycleCtx(deps).rules.classify('imageInfo', err) === 'terminal') {
      const code = err instanceof ObjectStoreError ? err.code : 'error';
      throw new InputError('UnsupportedImage', `${sketch.key}: OSS image processing could not read it as a ${format.toUpperCase()} image (${code}); is the file damaged?`, { cause: err });
    }
    throw err;
  }
  const view = planSketchView(sketch.key, sketch.size, info, format, deps.config.fit, spec);
  if (view.normalized && view.reason) warnings.push(`sent as ${view.description} (${view.reason})`);

  if (!request) return { state: 'AWAITING_PROMPT' };
  const n = request.parameters.n;
  const never = budgetNeverFits({ images: n, milliCny: costMilliCny(spec, n) }, budgetLimits(deps.config), spec.name);
  if (never) {
    // It could never be sent, and would wait at the head of the queue for ever (issue 13 run 9).
    return { state: 'FINALIZING', error: { code: never.code, message: `${sidecar?.key ?? sketch.key}: ${never.message}` } };
  }
  warnings.push(...request.warnings);
  return {
    state: 'QUEUED',
    request: { model: request.model, prompt: request.prompt, parameters: request.parameters, normalized: view.normalized, ...(view.process ? { process: view.process } : {}) },
  };
}
