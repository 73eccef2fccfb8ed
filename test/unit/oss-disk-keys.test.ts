/** Which keys disk mode can store as files, and where. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diskKeyProblem, keyToPath, pathToKey } from '../../lib/local/oss/disk-keys.js';

describe('disk keys', () => {
  it('accepts ordinary, odd and deep keys', () => {
    for (const key of ['a.png', 'sketches/猫 + 100%.png', 'a/b/c/d/e/f.png', 'folder/', 'emoji 🐱.png', 'back\\slash.png']) {
      expect(diskKeyProblem(key), key).toBeUndefined();
    }
  });

  it('explains what cannot be a file path', () => {
    expect(diskKeyProblem('.sketchflow/x')).toMatch(/state folder/);
    expect(diskKeyProblem('a//b')).toMatch(/empty path segment/);
    expect(diskKeyProblem('a/../b')).toMatch(/".." path segment/);
    expect(diskKeyProblem('./a')).toMatch(/"." path segment/);
    expect(diskKeyProblem(`${'x'.repeat(256)}.png`)).toMatch(/255 bytes/);
    expect(diskKeyProblem('nul\0.png')).toMatch(/NUL/);
  });

  it('maps keys to paths and back', () => {
    const root = path.resolve('/tmp/bucket');
    expect(keyToPath(root, 'a/b.png')).toBe(path.join(root, 'a', 'b.png'));
    expect(keyToPath(root, 'a/b/')).toBe(path.join(root, 'a', 'b'));
    expect(pathToKey(root, path.join(root, 'a', 'b.png'))).toBe('a/b.png');
    expect(pathToKey(root, path.join(root, 'a', 'b'), true)).toBe('a/b/');
  });
});
