/**
 * The soak's own reading of the bucket contract (SPEC §1), from what it uploaded: which files make
 * a job now, and which version is the newest. It is an oracle kept apart from lib/core on purpose:
 * the pipeline's own picking logic is what is being tested.
 */
import { jobIdOf, versionIdOf } from '../lib/contract/keys.js';

export interface UploadRecord {
  t: number;
  key: string;
  /** Uppercase MD5 hex without quotes, as in events and listings. */
  etag: string;
  /** Last-Modified as the emulator stored it (epoch ms; the version counts its whole second). */
  modified: number;
  size: number;
  job?: number;
  role: 'sketch' | 'sidecar' | 'defaults' | 'ignored';
}

export interface VersionFiles {
  sketchKey: string;
  sketchEtag: string;
  sketchModified: number;
  sidecarKey?: string;
  sidecarEtag?: string;
  sidecarModified?: number;
  /** The pipeline's id of this version (SPEC §1: each file's key, ETag and Last-Modified second). */
  id: string;
}

/** `a/b/cat.v2.png` → `a/b/cat.v2` (folder + stem; a leading dot is not an extension). */
export function jobKeyOfSketchKey(key: string): string {
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? key : key.slice(0, slash + 1) + name.slice(0, dot);
}

/** The manifest's name as SPEC §1 gives it, spelled here rather than taken from lib (an oracle). */
export function manifestKeyOf(jobKey: string): string {
  return `${jobKey}.result.json`;
}

function lastUpload(uploads: UploadRecord[], key: string): UploadRecord | undefined {
  for (let i = uploads.length - 1; i >= 0; i--) if (uploads[i]!.key === key) return uploads[i];
  return undefined;
}

/** The version the bucket holds for `jobKey` now: the newest sketch upload, and `.json` over `.txt`. */
export function newestVersionOf(jobKey: string, uploads: UploadRecord[]): VersionFiles | undefined {
  let sketch: UploadRecord | undefined;
  for (const u of uploads) if (u.role === 'sketch' && jobKeyOfSketchKey(u.key) === jobKey) sketch = u;
  if (!sketch) return undefined;
  const sidecar = lastUpload(uploads, `${jobKey}.json`) ?? lastUpload(uploads, `${jobKey}.txt`);
  const last = lastUpload(uploads, sketch.key)!;
  const files = {
    sketchKey: sketch.key,
    sketchEtag: last.etag,
    sketchModified: last.modified,
    ...(sidecar ? { sidecarKey: sidecar.key, sidecarEtag: sidecar.etag, sidecarModified: sidecar.modified } : {}),
  };
  return { ...files, id: versionIdOf(files) };
}

/** Every version the uploads made for a job, oldest first (each upload of the job's files makes one). */
export function versionsOf(jobKey: string, uploads: UploadRecord[]): Array<VersionFiles & { t: number }> {
  const out: Array<VersionFiles & { t: number }> = [];
  const seen = new Set<string>();
  for (let i = 0; i < uploads.length; i++) {
    const u = uploads[i]!;
    if ((u.role !== 'sketch' && u.role !== 'sidecar') || jobKeyOfSketchKey(u.key) !== jobKey) continue;
    const v = newestVersionOf(jobKey, uploads.slice(0, i + 1));
    if (v && !seen.has(v.id)) {
      seen.add(v.id);
      out.push({ ...v, t: u.t });
    }
  }
  return out;
}

/**
 * The sketch a key DashScope fetched stands for: the key itself, or — for the pipeline's ASCII
 * staging copy of one version (SPEC §1 naming rule, `sketchflow-staging/<jobId>/<versionId><ext>`)
 * — the sketch of that version, found among the uploads.
 */
export function sketchOfFetchedKey(key: string, uploads: UploadRecord[]): string {
  const m = /^sketchflow-staging\/([0-9a-f]{32})\/([0-9a-f]{24})\.[a-z0-9]+$/.exec(key);
  if (!m) return key;
  const sketches = uploads.filter((u) => u.role === 'sketch');
  const jobKey = [...new Set(sketches.map((u) => jobKeyOfSketchKey(u.key)))].find((k) => jobIdOf(k) === m[1]);
  if (!jobKey) return key;
  const version = versionsOf(jobKey, uploads).find((v) => v.id === m[2]);
  return version?.sketchKey ?? sketches.filter((u) => jobKeyOfSketchKey(u.key) === jobKey).at(-1)!.key;
}
