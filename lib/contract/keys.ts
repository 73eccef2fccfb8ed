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

export function classifyKey(key: string, prefix: string): KeyKind {
  if (!key.startsWith(prefix)) return { kind: 'ignored', reason: `outside the watched prefix '${prefix}'` };
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

/** A version: the sketch's ETag and its own sidecar's ETag (SPEC §4). */
export function versionIdOf(parts: { sketchKey: string; sketchEtag: string; sidecarKey?: string; sidecarEtag?: string; generation?: number }): string {
  const fields = [parts.sketchKey, parts.sketchEtag, parts.sidecarKey ?? '', parts.sidecarEtag ?? ''];
  // A retry (generation > 0) makes a new version of the same files; generation 0 adds nothing.
  if (parts.generation) fields.push(`retry:${parts.generation}`);
  return createHash('sha256')
    .update(fields.join('\n'), 'utf8')
    .digest('hex')
    .slice(0, 24);
}
