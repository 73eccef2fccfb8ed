/**
 * The naming and version rules of SPEC §1 as pure functions: which keys are sent from a staging
 * copy and under what name, the STAGING_PREFIX setting, what makes a version, and how sketches of
 * one job uploaded in the same second are ordered from what the job row remembers.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { classifyKey, jobIdOf, needsStaging, parseStagingKey, stagingFolderOf, stagingKeyOf, versionIdOf } from '../../lib/contract/keys.js';
import { ConfigError } from '../../lib/errors.js';
import { pickJobFiles, type JobFiles, type UploadEvent } from '../../lib/core/intake.js';
import type { ObjectSummary } from '../../lib/core/ports.js';
import type { UploadOrder } from '../../lib/core/records.js';

const P = 'sketches/';
const S = 'sketchflow-staging/';

describe('which keys are sent from a staging copy', () => {
  it('plain ASCII keys (deep folders, dots, dashes, underscores, tildes) go into the URL as they are', () => {
    for (const key of ['sketches/cat.png', 'sketches/a/b/c/d/e/f.PNG', 'sketches/cat.v2_final-1~x.jpeg']) expect(needsStaging(key), key).toBe(false);
  });

  it('CJK, emoji, spaces, + % # ? & = and other reserved characters, and empty segments are staged', () => {
    for (const key of ['sketches/中文.png', 'sketches/猫 🐱.png', 'sketches/a b.png', 'sketches/a+b.png', 'sketches/100%.png', 'sketches/no#1.png', 'sketches/why?.png', 'sketches/a&b=c.png', "sketches/it's.png", 'sketches//x.png', 'sketches/café.png']) {
      expect(needsStaging(key), key).toBe(true);
    }
  });

  it('names each version’s copy in hex with the sketch’s extension, and reads it back', () => {
    const jobId = jobIdOf('sketches/中文 草图+1');
    const versionId = versionIdOf({ sketchKey: 'sketches/中文 草图+1.PNG', sketchEtag: 'E', sketchModified: 1_700_000_000_000 });
    const key = stagingKeyOf(S, jobId, versionId, 'sketches/中文 草图+1.PNG');
    expect(key).toBe(`${S}${jobId}/${versionId}.png`);
    expect(needsStaging(key)).toBe(false);
    expect(key.startsWith(stagingFolderOf(S, jobId, versionId))).toBe(true);
    expect(parseStagingKey(S, key)).toEqual({ jobId, versionId });
    expect(parseStagingKey(S, `${S}someone-elses/file.png`)).toBeUndefined();
    expect(parseStagingKey(S, `sketches/${jobId}/${versionId}.png`)).toBeUndefined();
  });

  it('staging copies are never input, even when the whole bucket is watched', () => {
    expect(classifyKey(`${S}0123/4567.png`, '', S)).toMatchObject({ kind: 'ignored' });
    expect(classifyKey('sketches/cat.png', '', S)).toMatchObject({ kind: 'sketch' });
    expect(classifyKey(`${S}0123/4567.png`, P, S)).toMatchObject({ kind: 'ignored' });
  });
});

describe('STAGING_PREFIX', () => {
  const minimal = { DASHSCOPE_API_KEY: 'sk-0123456789abcdef0123', OSS_BUCKET: 'my-sketches', TABLESTORE_ENDPOINT: 'https://i.cn-beijing.ots.aliyuncs.com', TABLESTORE_INSTANCE: 'inst' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...minimal, ...env });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('defaults to sketchflow-staging/, outside the default prefix', () => {
    expect(loadConfig(minimal).stagingPrefix).toBe('sketchflow-staging/');
  });

  it('must be an ASCII folder (it goes into DashScope’s URL)', () => {
    for (const bad of ['staging', '/staging/', '暂存/', 'a b/', '../x/', '.hidden/', 'a//b/', 'x*/']) expect(problems({ STAGING_PREFIX: bad }), bad).toEqual([expect.stringMatching(/^STAGING_PREFIX must be an ASCII folder/)]);
    expect(problems({ STAGING_PREFIX: 'tmp/sketchflow-staging/' })).toEqual([]);
  });

  it('must not be inside SKETCH_PREFIX nor contain it', () => {
    expect(problems({ STAGING_PREFIX: 'sketches/staging/' })).toEqual([expect.stringMatching(/^STAGING_PREFIX must be a folder outside SKETCH_PREFIX \('sketches\/'\)/)]);
    expect(problems({ STAGING_PREFIX: 'in/', SKETCH_PREFIX: 'in/sketches/' })).toHaveLength(1);
    expect(problems({ STAGING_PREFIX: 'sketches-staging/' })).toEqual([]);
  });
});

describe('versions', () => {
  const base = { sketchKey: 'k.png', sketchEtag: 'E1', sketchModified: 1_700_000_000_250 };
  it('a new ETag, a new sidecar or a new Last-Modified second is a new version; the same second is not', () => {
    const a = versionIdOf(base);
    expect(versionIdOf({ ...base, sketchModified: 1_700_000_000_999 })).toBe(a); // OSS keeps whole seconds
    expect(versionIdOf({ ...base, sketchModified: 1_700_000_001_000 })).not.toBe(a); // uploaded again
    expect(versionIdOf({ ...base, sketchEtag: 'E2' })).not.toBe(a);
    const withSidecar = versionIdOf({ ...base, sidecarKey: 'k.json', sidecarEtag: 'S', sidecarModified: 1_700_000_000_000 });
    expect(withSidecar).not.toBe(a);
    expect(versionIdOf({ ...base, sidecarKey: 'k.json', sidecarEtag: 'S', sidecarModified: 1_700_000_002_000 })).not.toBe(withSidecar);
    expect(versionIdOf({ ...base, generation: 1 })).not.toBe(a);
  });
});

describe('sketches of one job uploaded in the same second', () => {
  const T = 1_700_000_000_000;
  const obj = (key: string, etag = 'E', lastModified = T): ObjectSummary => ({ key, etag, size: 1, lastModified });
  const JPG = obj('sketches/cat.jpg', 'J');
  const PNG = obj('sketches/cat.png', 'P');
  const WEBP = obj('sketches/cat.webp', 'W');
  /** One look: what it picks, and the order the job row would keep. */
  const look = (listing: ObjectSummary[], order?: UploadOrder, event?: UploadEvent): JobFiles => pickJobFiles('sketches/cat', P, listing, { ...(order ? { order } : {}), ...(event ? { event } : {}) });
  /** Looks in sequence, each keeping what the previous learnt (as the job row does). */
  const looks = (...steps: Array<{ listing: ObjectSummary[]; event?: UploadEvent }>) => {
    let order: UploadOrder | undefined;
    let files: JobFiles | undefined;
    for (const s of steps) {
      files = look(s.listing, order, s.event);
      order = files.order;
    }
    return files!;
  };
  const ev = (o: ObjectSummary): UploadEvent => ({ key: o.key, etag: o.etag });

  it('a later second always wins', () => {
    expect(look([obj('sketches/cat.png', 'P', T), obj('sketches/cat.jpg', 'J', T + 1000)]).sketch?.key).toBe('sketches/cat.jpg');
  });

  it('in one second, the upload a later look found first is the newer (it was not there before)', () => {
    expect(looks({ listing: [JPG], event: ev(JPG) }, { listing: [JPG, PNG], event: ev(PNG) }).sketch?.key).toBe('sketches/cat.png');
    expect(looks({ listing: [PNG], event: ev(PNG) }, { listing: [JPG, PNG], event: ev(JPG) }).sketch?.key).toBe('sketches/cat.jpg');
    // Found by a look without an event (the catch-up listing): the same.
    expect(looks({ listing: [PNG] }, { listing: [JPG, PNG] }).sketch?.key).toBe('sketches/cat.jpg');
    // And a late event of the older one changes nothing.
    expect(looks({ listing: [PNG], event: ev(PNG) }, { listing: [JPG, PNG] }, { listing: [JPG, PNG], event: ev(PNG) }).sketch?.key).toBe('sketches/cat.jpg');
  });

  it('both there at the first look: the one whose event is still to come is the newer, then the last event', () => {
    const first = look([JPG, PNG], undefined, ev(JPG));
    expect(first.sketch?.key).toBe('sketches/cat.png');
    expect(first.warnings[0]).toMatch(/the newest, cat\.png, was used \(uploaded in the same second: ordered by when sketchflow saw them\)$/);
    expect(looks({ listing: [JPG, PNG], event: ev(JPG) }, { listing: [JPG, PNG], event: ev(PNG) }).sketch?.key).toBe('sketches/cat.png');
    // Three of them, events in upload order (jpg, png, webp): each step moves to the one still announced later.
    expect(looks({ listing: [JPG, PNG, WEBP], event: ev(JPG) }, { listing: [JPG, PNG, WEBP], event: ev(PNG) }).sketch?.key).toBe('sketches/cat.webp');
    expect(looks({ listing: [JPG, PNG, WEBP], event: ev(JPG) }, { listing: [JPG, PNG, WEBP], event: ev(PNG) }, { listing: [JPG, PNG, WEBP], event: ev(WEBP) }).sketch?.key).toBe('sketches/cat.webp');
  });

  it('each event counts once: a redelivered older event changes nothing', () => {
    const steps = [
      { listing: [JPG, PNG], event: ev(JPG) },
      { listing: [JPG, PNG], event: ev(PNG) },
      { listing: [JPG, PNG], event: ev(JPG) },
      { listing: [JPG, PNG], event: ev(JPG) },
    ];
    expect(looks(...steps).sketch?.key).toBe('sketches/cat.png');
    const settled = looks(...steps.slice(0, 2));
    expect(look([JPG, PNG], settled.order, ev(JPG)).orderChanged).toBe(false);
  });

  it('an event for an older upload of the key (another ETag) counts for nothing', () => {
    const first = look([JPG, PNG], undefined, ev(JPG));
    const stale = look([JPG, PNG], first.order, { key: 'sketches/cat.png', etag: 'OLD' });
    expect(stale.orderChanged).toBe(false);
    expect(stale.sketch?.key).toBe('sketches/cat.png');
  });

  it('the known limit: events of two uploads that were both there at the first look, arriving out of order, pick the older', () => {
    // OSS records nothing that could tell; uploading again (a later second) settles it.
    expect(looks({ listing: [JPG, PNG], event: ev(PNG) }, { listing: [JPG, PNG], event: ev(JPG) }).sketch?.key).toBe('sketches/cat.jpg');
  });

  it('keeps the row small: a single sketch’s repeated events write nothing, and gone uploads are forgotten', () => {
    const first = look([PNG], undefined, ev(PNG));
    expect(first.order).toEqual({ looks: 1, uploads: [{ key: 'sketches/cat.png', etag: 'P', second: T / 1000, seen: 1 }] });
    expect(look([PNG], first.order, ev(PNG)).orderChanged).toBe(false);
    const both = look([PNG, JPG], first.order);
    expect(look([JPG], both.order).order.uploads.map((u) => u.key)).toEqual(['sketches/cat.jpg']);
  });

  it('a same-bytes upload of the key in a later second is a new upload', () => {
    const first = look([PNG], undefined, ev(PNG));
    const again = look([obj('sketches/cat.png', 'P', T + 1000)], first.order, ev(PNG));
    expect(again.orderChanged).toBe(true);
    expect(again.order.uploads).toEqual([{ key: 'sketches/cat.png', etag: 'P', second: T / 1000 + 1, seen: 2 }]);
  });
});
