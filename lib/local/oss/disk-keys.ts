/**
 * Which object keys can live as plain files under the disk-mode directory, and where.
 *
 * A key is a path relative to the directory; `a/b/` (trailing slash) is a folder marker and maps
 * to the directory `a/b`. Keys that cannot be stored on disk, answered with 400 InvalidObjectName
 * instead of being mangled:
 * - a segment that is empty (`a//b`, a leading `/`), `.` or `..` (the file system would fold them);
 * - a first segment `.sketchflow` (the emulator's own state, hidden from the bucket);
 * - a segment longer than 255 bytes, or a NUL character (file system limits);
 * - a key whose parent is already a file (`a` exists, then `a/b`), or a file key where a folder
 *   with contents exists (`a/b` exists, then `a`): one path cannot be both;
 * - a folder marker with a non-empty body.
 * Memory mode stores all of these as OSS does.
 */
import path from 'node:path';

export const STATE_DIR = '.sketchflow';

/** Why the key cannot be a file path, or undefined when it can. */
export function diskKeyProblem(key: string): string | undefined {
  if (key.includes('\0')) return 'it contains a NUL character';
  const segments = (key.endsWith('/') ? key.slice(0, -1) : key).split('/');
  if (segments[0] === STATE_DIR) return `'${STATE_DIR}/' is the emulator's own state folder`;
  for (const s of segments) {
    if (s === '') return 'it has an empty path segment (a leading slash or "//")';
    if (s === '.' || s === '..') return `it has a "${s}" path segment`;
    if (Buffer.byteLength(s, 'utf8') > 255) return 'a path segment is longer than 255 bytes';
  }
  return undefined;
}

export function isFolderKey(key: string): boolean {
  return key.endsWith('/');
}

/** Absolute file (or, for a folder marker, directory) path of a storable key. */
export function keyToPath(root: string, key: string): string {
  return path.join(root, ...(isFolderKey(key) ? key.slice(0, -1) : key).split('/'));
}

/** Key of a path under root (files), or of a directory when `folder` is set. */
export function pathToKey(root: string, file: string, folder = false): string {
  const rel = path.relative(root, file).split(path.sep).join('/');
  return folder ? `${rel}/` : rel;
}
