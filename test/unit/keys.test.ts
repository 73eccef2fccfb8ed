import { describe, expect, it } from 'vitest';
import { belongsToJob, classifyKey, defaultsChain, jobIdOf, manifestKey, resultImageKey, splitKey, versionIdOf } from '../../lib/contract/keys.js';

const P = 'sketches/';

describe('classifyKey', () => {
  it('recognises sketches by extension, case-insensitively', () => {
    for (const ext of ['.png', '.JPG', '.jpeg', '.Webp', '.bmp', '.tif', '.TIFF']) {
      expect(classifyKey(`sketches/cat${ext}`, P)).toMatchObject({ kind: 'sketch', jobKey: 'sketches/cat', stem: 'cat' });
    }
  });

  it('recognises sidecars and folder defaults', () => {
    expect(classifyKey('sketches/a/cat.json', P)).toMatchObject({ kind: 'sidecar', format: 'json', jobKey: 'sketches/a/cat' });
    expect(classifyKey('sketches/a/cat.TXT', P)).toMatchObject({ kind: 'sidecar', format: 'txt' });
    expect(classifyKey('sketches/a/_defaults.json', P)).toEqual({ kind: 'defaults', folder: 'sketches/a/' });
  });

  it('never treats outputs as input (SPEC §1 reserved names)', () => {
    expect(classifyKey('sketches/cat.result.json', P)).toEqual({ kind: 'output', jobKey: 'sketches/cat' });
    expect(classifyKey('sketches/cat.result-1.png', P)).toEqual({ kind: 'output', jobKey: 'sketches/cat' });
    expect(classifyKey('sketches/cat.result-12.png', P)).toEqual({ kind: 'output', jobKey: 'sketches/cat' });
    expect(classifyKey('sketches/cat.result.png', P).kind).toBe('output');
    // not reserved: 'result' is only special as the last dotted part of the stem
    expect(classifyKey('sketches/result.png', P).kind).toBe('sketch');
    expect(classifyKey('sketches/cat.results.png', P).kind).toBe('sketch');
    expect(classifyKey('sketches/cat.result-x.png', P).kind).toBe('sketch');
  });

  it('ignores keys outside the prefix, folders, hidden and unknown files', () => {
    expect(classifyKey('other/cat.png', P).kind).toBe('ignored');
    expect(classifyKey('sketches/a/', P).kind).toBe('ignored');
    expect(classifyKey('sketches/.png', P).kind).toBe('ignored');
    expect(classifyKey('sketches/cat.gif', P).kind).toBe('ignored');
    expect(classifyKey('sketches/README', P).kind).toBe('ignored');
  });

  it('treats a dotted stem as part of the name', () => {
    expect(splitKey('sketches/a/cat.v2.png')).toEqual({ folder: 'sketches/a/', name: 'cat.v2.png', stem: 'cat.v2', ext: '.png' });
    expect(classifyKey('sketches/cat.v2.png', P)).toMatchObject({ jobKey: 'sketches/cat.v2' });
  });

  it("refuses '.' and '..' path segments, which OSS clients collapse before signing", () => {
    expect(classifyKey('sketches/x/../cat.png', P)).toMatchObject({ kind: 'refused' });
    expect(classifyKey('sketches/./cat.json', P)).toMatchObject({ kind: 'refused' });
    expect(classifyKey('sketches/..cat.png', P).kind).toBe('sketch');
    expect(classifyKey('sketches/cat../a.png', P).kind).toBe('sketch');
  });

  it('keeps odd characters exactly', () => {
    const key = 'sketches/深い/猫 + 100% 🐱.png';
    expect(classifyKey(key, P)).toMatchObject({ kind: 'sketch', jobKey: 'sketches/深い/猫 + 100% 🐱' });
  });
});

describe('job naming', () => {
  it('names outputs next to the sketch', () => {
    expect(resultImageKey('sketches/cat', 2)).toBe('sketches/cat.result-2.png');
    expect(manifestKey('sketches/cat')).toBe('sketches/cat.result.json');
  });

  it('groups cat.png, cat.jpg and cat.json into one job but not cat.v2.png', () => {
    expect(belongsToJob('sketches/cat.png', 'sketches/cat')).toBe(true);
    expect(belongsToJob('sketches/cat.jpg', 'sketches/cat')).toBe(true);
    expect(belongsToJob('sketches/cat.json', 'sketches/cat')).toBe(true);
    expect(belongsToJob('sketches/cat.v2.png', 'sketches/cat')).toBe(false);
  });

  it('lists _defaults.json from the folder up to the prefix, nearest first', () => {
    expect(defaultsChain('sketches/a/b/', P)).toEqual(['sketches/a/b/_defaults.json', 'sketches/a/_defaults.json', 'sketches/_defaults.json']);
    expect(defaultsChain('sketches/', P)).toEqual(['sketches/_defaults.json']);
    expect(defaultsChain('a/', '')).toEqual(['a/_defaults.json', '_defaults.json']);
  });

  it('hashes job keys to short, stable row ids even for 1,000-byte keys', () => {
    const long = `sketches/${'x'.repeat(1000)}`;
    expect(jobIdOf(long)).toMatch(/^[0-9a-f]{32}$/);
    expect(jobIdOf('sketches/cat')).toBe(jobIdOf('sketches/cat'));
    expect(jobIdOf('sketches/cat')).not.toBe(jobIdOf('sketches/dog'));
  });

  it('makes a new version for a new sketch ETag or a new sidecar ETag', () => {
    const a = versionIdOf({ sketchKey: 'k.png', sketchEtag: 'E1' });
    expect(versionIdOf({ sketchKey: 'k.png', sketchEtag: 'E1' })).toBe(a);
    expect(versionIdOf({ sketchKey: 'k.png', sketchEtag: 'E2' })).not.toBe(a);
    expect(versionIdOf({ sketchKey: 'k.png', sketchEtag: 'E1', sidecarKey: 'k.json', sidecarEtag: 'S' })).not.toBe(a);
  });
});
