/**
 * The bucket contract's names (SPEC §1): what a key is, which job it belongs to, where outputs go.
 * Pure functions only: the submit function decides from the key alone, with no I/O, whether an
 * event is worth looking at.
 */
import { createHash } from 'node:crypto';

export const SKETCH_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'] as const;
export const DEFAULTS_FILE = '_defaults.json';

export type KeyKind =
  | { kind: 'sketch'; folder: string; stem: string; jobKey: string; ext: string }
  | { kind: 'sidecar'; folder: string; stem: string; jobKey: string; format: 'json' | 'txt' }
  | { kind: 'defaults'; folder: string }
  /** Our own outputs (`.result`, `.result-N`): never input, never work (SPEC §4 invariant 4). */
  | { kind: 'output'; jobKey: string }
  | { kind: 'ignored'; reason: string }
  /** Looks like input but cannot be processed: the user must rename it (logged as a warning). */
  | { kind: 'refused'; reason: string };

const RESERVED_STEM = /\.result(-\d+)?$/;

/** Splits `a/b/cat.v2.png` into folder `a/b/`, name `cat.v2.png`, stem `cat.v2`, ext `.png`. */
export function splitKey(key: string): { folder: string; name: string; stem: string; ext: string } {
  const slash = key.lastIndexOf('/');
  const folder = key.slice(0, slash + 1);
  const name = key.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  // A leading dot (".png") is a hidden file, not an extension.
  if (dot <= 0) return { folder, name, stem: name, ext: '' };
  return { folder, name, stem: name.slice(0, dot), ext: name.slice(dot) };
}

/**
 * What `key` is to the pipeline. `stagingPrefix` (STAGING_PREFIX) holds the pipeline's own ASCII
 * copies of sketches (lib/core/staging.ts): never input, even when the whole bucket is watched.
 */
export function classifyKey(key: string, prefix: string, stagingPrefix?: string): KeyKind {
  if (!key.startsWith(prefix)) return { kind: 'ignored', reason: `outside the watched prefix '${prefix}'` };
  if (stagingPrefix && key.startsWith(stagingPrefix)) return { kind: 'ignored', reason: `a staging copy of sketchflow (under '${stagingPrefix}')` };
  if (key.endsWith('/')) return { kind: 'ignored', reason: 'a folder marker' };
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    // ali-oss (like URL handling everywhere) collapses these before signing, so the object cannot
    // be read, and no output can be written, under its own name.
    return { kind: 'refused', reason: `'${key}' has a '.' or '..' path segment, which OSS clients collapse; rename it without one` };
  }
  const { folder, name, stem, ext } = splitKey(key);
  if (name === DEFAULTS_FILE) return { kind: 'defaults', folder };
  if (RESERVED_STEM.test(stem)) return { kind: 'output', jobKey: folder + stem.replace(RESERVED_STEM, '') };
  if (ext === '') return { kind: 'ignored', reason: 'no file extension' };
  const lower = ext.toLowerCase();
  const jobKey = folder + stem;
  if ((SKETCH_EXTENSIONS as readonly string[]).includes(lower)) return { kind: 'sketch', folder, stem, jobKey, ext: lower };
  if (lower === '.json') return { kind: 'sidecar', folder, stem, jobKey, format: 'json' };
  if (lower === '.txt') return { kind: 'sidecar', folder, stem, jobKey, format: 'txt' };
  return { kind: 'ignored', reason: `'${ext}' is neither a sketch nor a sidecar` };
}

/** Is `key` one of the job's own files (sketch or sidecar, any extension)? */
export function belongsToJob(key: string, jobKey: string): boolean {
  const { folder, stem } = splitKey(key);
  return folder + stem === jobKey;
}

export function resultImageKey(jobKey: string, index: number): string {
  return `${jobKey}.result-${index}.png`;
}

export function manifestKey(jobKey: string): string {
  return `${jobKey}.result.json`;
}

/** `_defaults.json` files that apply to a folder, nearest first, up to the prefix. */
export function defaultsChain(folder: string, prefix: string): string[] {
  const chain: string[] = [];
  let current = folder;
  while (current.startsWith(prefix)) {
    chain.push(current + DEFAULTS_FILE);
    if (current === prefix) break;
    const trimmed = current.slice(0, -1);
    current = trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
  }
  return chain;
}

/**
 * Tablestore primary keys are at most 1 KB and our keys may be longer (OSS allows 1,023 bytes plus
 * the prefix of our row kinds), so rows are keyed by a hash of the job key.
 */
export function jobIdOf(jobKey: string): string {
  return createHash('sha256').update(jobKey, 'utf8').digest('hex').slice(0, 32);
}

/** A time as OSS keeps it: whole seconds (listings, Last-Modified and events carry no more). */
export function wholeSecond(ms: number): number {
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/**
 * A version (SPEC §1): the sketch's upload and its own sidecar's upload, each named by key, ETag
 * and Last-Modified second, so an upload of the same bytes again is a new version while the same
 * upload delivered twice is not. Times are epoch ms; only their whole second counts.
 */
export function versionIdOf(parts: {
  sketchKey: string;
  sketchEtag: string;
  sketchModified?: number;
  sidecarKey?: string;
  sidecarEtag?: string;
  sidecarModified?: number;
  generation?: number;
}): string {
  const second = (ms: number | undefined) => (ms === undefined ? '' : String(wholeSecond(ms)));
  const fields = [parts.sketchKey, parts.sketchEtag, second(parts.sketchModified), parts.sidecarKey ?? '', parts.sidecarEtag ?? '', second(parts.sidecarModified)];
  // A retry (generation > 0) makes a new version of the same files; generation 0 adds nothing.
  if (parts.generation) fields.push(`retry:${parts.generation}`);
  return createHash('sha256')
    .update(fields.join('\n'), 'utf8')
    .digest('hex')
    .slice(0, 24);
}

// ---------------------------------------------------------------- staging (SPEC §1 naming rule)

/**
 * Characters a sketch key may hold and still be sent to DashScope in its own URL: RFC 3986
 * unreserved ones and '/'. Anything else — CJK (the API reference forbids Chinese characters in the
 * URL), emoji, spaces, `+`, `%`, `#`, `?`, … — or an empty path segment (`a//b`, which URL
 * handling may fold) is sent from an ASCII staging copy instead.
 */
const URL_SAFE_KEY = /^[A-Za-z0-9._~/-]+$/;

export function needsStaging(key: string): boolean {
  return !URL_SAFE_KEY.test(key) || key.includes('//');
}

/**
 * The staging copy of one version's sketch: `<STAGING_PREFIX><jobId>/<versionId><ext>`, hex and
 * the sketch's own (ASCII) extension in lower case, so the copy of each version has its own name.
 */
export function stagingKeyOf(stagingPrefix: string, jobId: string, versionId: string, sketchKey: string): string {
  return `${stagingPrefix}${jobId}/${versionId}${splitKey(sketchKey).ext.toLowerCase()}`;
}

/** The folder of one version's staging copy (what cleanup lists when the extension is not known). */
export function stagingFolderOf(stagingPrefix: string, jobId: string, versionId: string): string {
  return `${stagingPrefix}${jobId}/${versionId}`;
}

const STAGING_NAME = /^([0-9a-f]{32})\/([0-9a-f]{24})(\.[a-z0-9]+)?$/;

/** The job and version a staging copy belongs to; undefined for anything sketchflow did not name. */
export function parseStagingKey(stagingPrefix: string, key: string): { jobId: string; versionId: string } | undefined {
  if (!key.startsWith(stagingPrefix)) return undefined;
  const m = STAGING_NAME.exec(key.slice(stagingPrefix.length));
  return m ? { jobId: m[1]!, versionId: m[2]! } : undefined;
}
