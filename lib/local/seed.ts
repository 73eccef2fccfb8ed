/**
 * First run of `sketchflow local`: a missing or empty bucket folder gets the example sketches
 * shipped in the repo (examples/sketches/, made by examples/make-examples.ts), so there is
 * something to see at once.
 */
import fs from 'node:fs';
import path from 'node:path';

export const EXAMPLES_DIR = path.resolve(import.meta.dirname, '../../examples/sketches');

/** True when `dir` does not exist or holds nothing (hidden files aside). */
export function isFreshDir(dir: string): boolean {
  try {
    return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * Copies the examples into `dir/<prefix>` when `dir` is fresh; returns the keys written
 * (empty when the folder was already in use).
 */
export function seedExamples(dir: string, prefix: string, from = EXAMPLES_DIR): string[] {
  if (!isFreshDir(dir)) return [];
  const target = path.join(dir, prefix);
  fs.mkdirSync(target, { recursive: true });
  const keys: string[] = [];
  for (const name of fs.readdirSync(from).sort()) {
    const src = path.join(from, name);
    if (!fs.statSync(src).isFile()) continue;
    fs.copyFileSync(src, path.join(target, name));
    keys.push(`${prefix}${name}`);
  }
  return keys;
}
