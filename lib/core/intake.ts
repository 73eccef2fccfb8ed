/**
 * From bucket state to a job version (SPEC §1–§3): which sketch and sidecar make the job now,
 * what request they resolve to, and whether the sketch passes the checks before money is spent.
 */
import { belongsToJob, classifyKey, defaultsChain, splitKey, versionIdOf } from '../contract/keys.js';
import { checkSketchBytes, planSketchView, SKETCH_MAX_BYTES, SNIFF_HEAD_BYTES, SNIFF_TAIL_BYTES } from '../contract/image-check.js';
import { resolveModel, resolveRequest, type RequestSources } from '../contract/request.js';
import { parseSidecarJson, parseSidecarTxt, SIDECAR_MAX_BYTES, type SidecarLayer } from '../contract/sidecar.js';
import { costMilliCny } from '../models/index.js';
import { InputError, ObjectStoreError } from '../errors.js';
import { budgetNeverFits, classify } from './lifecycle/index.js';
import { budgetLimits } from './jobs.js';
import type { CoreDeps } from './deps.js';
import type { ObjectSummary } from './ports.js';
import type { VersionRecord } from './records.js';

export interface JobFiles {
  sketch?: ObjectSummary;
  sidecar?: ObjectSummary & { format: 'json' | 'txt' };
  warnings: string[];
}

/**
 * The job's current files, from one listing. If several sketches share the stem (`cat.png` and
 * `cat.jpg`) the newest upload is the job; `.json` beats `.txt`.
 */
export function pickJobFiles(jobKey: string, prefix: string, listing: ObjectSummary[]): JobFiles {
  const sketches: ObjectSummary[] = [];
  const sidecars: Array<ObjectSummary & { format: 'json' | 'txt' }> = [];
  for (const obj of listing) {
    if (!belongsToJob(obj.key, jobKey)) continue;
    const kind = classifyKey(obj.key, prefix);
    if (kind.kind === 'sketch') sketches.push(obj);
    else if (kind.kind === 'sidecar') sidecars.push({ ...obj, format: kind.format });
  }
  sketches.sort((a, b) => b.lastModified - a.lastModified || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  sidecars.sort((a, b) => (a.format === b.format ? 0 : a.format === 'json' ? -1 : 1));
  const warnings: string[] = [];
  if (sketches.length > 1) warnings.push(`several sketches share this name (${sketches.map((s) => splitKey(s.key).name).join(', ')}); the newest, ${splitKey(sketches[0]!.key).name}, was used`);
  if (sidecars.length > 1) warnings.push(`both ${sidecars.map((s) => splitKey(s.key).name).join(' and ')} exist; ${splitKey(sidecars[0]!.key).name} was used`);
  return { sketch: sketches[0], sidecar: sidecars[0], warnings };
}

export async function listJobFiles(deps: CoreDeps, jobKey: string): Promise<JobFiles> {
  return pickJobFiles(jobKey, deps.config.sketchPrefix, await deps.objects.list(`${jobKey}.`));
}

export function versionIdFor(files: Required<Pick<JobFiles, 'sketch'>> & JobFiles, generation = 0): string {
  return versionIdOf({
    sketchKey: files.sketch.key,
    sketchEtag: files.sketch.etag,
    sidecarKey: files.sidecar?.key,
    sidecarEtag: files.sidecar?.etag,
    ...(generation ? { generation } : {}),
  });
}

/** Reads at most the sidecar limit (+1 byte to notice an oversized file without reading it all). */
async function readSmallObject(deps: CoreDeps, key: string): Promise<{ bytes: Buffer; size: number } | undefined> {
  const bytes = await deps.objects.getRange(key, 0, SIDECAR_MAX_BYTES);
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

/**
 * Builds the version record for the job's current files. Input problems become a FINALIZING
 * version carrying the error (the manifest will say what to fix); no prompt anywhere yet becomes
 * AWAITING_PROMPT; otherwise QUEUED with the resolved request.
 */
export async function buildVersion(deps: CoreDeps, jobKey: string, files: Required<Pick<JobFiles, 'sketch'>> & JobFiles, generation = 0): Promise<VersionRecord> {
  const now = deps.clock.now();
  const base: VersionRecord = {
    id: versionIdFor(files, generation),
    sketch: { key: files.sketch.key, etag: files.sketch.etag, size: files.sketch.size },
    ...(files.sidecar ? { sidecar: { key: files.sidecar.key, etag: files.sidecar.etag } } : {}),
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
  const head = (await deps.objects.getRange(sketch.key, 0, SNIFF_HEAD_BYTES - 1)) ?? Buffer.alloc(0);
  const tail = sketch.size > SNIFF_TAIL_BYTES ? ((await deps.objects.getRange(sketch.key, sketch.size - SNIFF_TAIL_BYTES, sketch.size - 1)) ?? Buffer.alloc(0)) : head;
  const format = checkSketchBytes(sketch.key, sketch.size, head, tail);

  // 2. the request: sidecar > metadata > _defaults.json > config
  let sidecarLayer: SidecarLayer | undefined;
  if (sidecar) {
    const file = await readSmallObject(deps, sidecar.key);
    if (file) {
      const size = Math.max(sidecar.size, file.size);
      sidecarLayer = sidecar.format === 'json' ? parseSidecarJson(sidecar.key, file.bytes, size) : parseSidecarTxt(sidecar.key, file.bytes, size);
    }
  }
  const meta = (await deps.objects.head(sketch.key))?.meta;
  const defaults = await readDefaults(deps, splitKey(jobKey).folder);
  const sources: RequestSources = { sidecar: sidecarLayer, metadata: meta, defaults, config: { ...deps.config.defaults, models: deps.config.models } };
  // The model decides what the sketch must be; the request may still wait for a prompt.
  const { spec } = resolveModel(sources);
  const request = resolveRequest(sources);

  // 3. what DashScope will see: as it is, or a normalized view made by OSS
  let info;
  try {
    info = await deps.objects.imageInfo(sketch.key);
  } catch (err) {
    // Only OSS failing to decode the bytes is the user's file; a missing permission, a sketch
    // deleted meanwhile or an odd reply is ours to retry (issue 13 run 7).
    if (classify('imageInfo', err) === 'terminal') {
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
