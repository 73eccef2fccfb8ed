/**
 * SPEC §1 naming rule: every key OSS accepts gets its results next to the sketch under its own
 * name — CJK (which DashScope refuses in a URL, and the simulator with it), emoji, spaces, `+`,
 * `%`, `#`, `?`, deep folders — under each way the OSS trigger may write the key into the event
 * (`eventKeyStyle`). Such sketches are sent from an ASCII staging copy, which is gone once the job
 * has finished; staging writes never trigger work; plain ASCII keys are sent as they are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdOf, manifestKey, resultImageKey } from '../../lib/contract/keys.js';
import { EVENT_KEY_STYLES, type EventKeyStyle } from '../../lib/local/oss/index.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const STAGING = 'sketchflow-staging/';

/** Job keys (folder + stem) whose names a URL cannot carry as they are, and one that it can. */
const ODD = [
  'sketches/中文 草图+1',
  'sketches/中文',
  'sketches/🐱 cat',
  'sketches/a b c',
  'sketches/a+b',
  'sketches/100%',
  'sketches/50%25 off',
  'sketches/no#1',
  'sketches/why?',
  'sketches/深/层/的/文件夹/草图',
];
/** Plain ASCII (deep folders too) goes into the URL as it is. */
const PLAIN = ['sketches/plain-ascii_1.0', 'sketches/a/b/c/d/e/f/g'];

for (const style of EVENT_KEY_STYLES) {
  describe(`odd file names, trigger keys written ${style}`, () => {
    let p: TestPipeline;

    beforeAll(async () => {
      p = await startTestPipeline({ oss: { eventKeyStyle: style as EventKeyStyle } });
      const sketch = await lineSketch(512);
      for (const [i, jobKey] of [...ODD, ...PLAIN].entries()) {
        // Sidecar first for half of them, sketch first for the others.
        const files: Array<[string, Buffer | string]> = [
          [`${jobKey}.txt`, `sketch number ${i}`],
          [`${jobKey}.png`, sketch],
        ];
        for (const [key, body] of i % 2 ? files.reverse() : files) await p.put(key, body);
      }
      // 12 sketches end to end: about 5 s alone, several times that on a loaded machine.
      await Promise.all([...ODD, ...PLAIN].map((jobKey) => p.waitForManifest(jobKey, 90_000)));
      await p.idle();
    }, 120_000);

    afterAll(async () => {
      await p?.close();
    });

    it('each ends SUCCEEDED with its result image and manifest under the sketch’s own name', () => {
      for (const jobKey of [...ODD, ...PLAIN]) {
        const m = p.manifest(jobKey)!;
        expect(m.status, `${jobKey}: ${JSON.stringify(m.error)}`).toBe('SUCCEEDED');
        expect(m.source.key).toBe(`${jobKey}.png`);
        expect(m.results).toEqual([{ index: 1, key: resultImageKey(jobKey, 1), bytes: expect.any(Number) }]);
        expect(p.stack.oss.peek(resultImageKey(jobKey, 1))?.body.length).toBeGreaterThan(1000);
        expect(p.stack.oss.peek(manifestKey(jobKey))).toBeDefined();
      }
    });

    it('DashScope fetched an ASCII staging copy of each odd one (one task each), the plain one as it is', () => {
      const creates = p.stack.dashscope.records.creates.filter((c) => c.taskId);
      for (const jobKey of ODD) {
        const staged = creates.filter((c) => c.sketchPath?.startsWith(`/${STAGING}${jobIdOf(jobKey)}/`));
        expect(staged, jobKey).toHaveLength(1);
        expect(staged[0]!.sketchPath).toMatch(/^\/sketchflow-staging\/[0-9a-f]{32}\/[0-9a-f]{24}\.png$/);
      }
      for (const jobKey of PLAIN) expect(p.submissions(`${jobKey}.png`), jobKey).toBe(1);
      expect(creates).toHaveLength(ODD.length + PLAIN.length);
      // Nothing non-ASCII ever went into a sketch URL.
      expect(creates.filter((c) => !/^[\x21-\x7e]+$/.test(c.sketchUrl ?? ''))).toEqual([]);
    });

    it('the staging copies are gone, and writing them triggered no work', async () => {
      const left = await p.client.listV2({ prefix: STAGING, 'max-keys': 100 }, {});
      expect(left.objects ?? []).toEqual([]);
      // One copy (CopyObject: the staging key's PutObject) for each create call of a staged sketch,
      // the throttled ones included (the simulator refuses creates beyond its rate), none else.
      const staging = p.stack.oss.records.filter((r) => r.key?.startsWith(STAGING));
      const stagedCreates = p.stack.dashscope.records.creates.filter((c) => c.sketchPath?.startsWith(`/${STAGING}`));
      expect(staging.filter((r) => r.action === 'oss:PutObject')).toHaveLength(stagedCreates.length);
      expect(staging.filter((r) => r.action === 'oss:DeleteObject').length).toBeGreaterThanOrEqual(ODD.length);
      // No job for anything under the staging folder; one job per uploaded sketch.
      const jobKeys = new Set(p.logRecords().filter((r) => r.msg === 'job state').map((r) => r.jobKey as string));
      expect([...jobKeys].sort()).toEqual([...ODD, ...PLAIN].sort());
    });
  });
}
