/**
 * SPEC §1: `cat.png` and `cat.jpg` are one job, and the newest upload is its sketch — also when
 * both are uploaded in the same second, which is all real OSS (and the emulator) records of their
 * times. The job row remembers the order the pipeline saw the uploads in (intake.ts pickJobFiles):
 * an upload that appears after the other was recorded is the newer; two that were both there at
 * the first look are ordered by their events, each counted once however often it is delivered.
 * The key never decides: `cat.png` (which sorts after `cat.jpg`) wins when it came last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdOf } from '../../lib/contract/keys.js';
import { SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import { ossEvent } from '../helpers/events.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let png: Buffer;
let jpeg: Buffer;
/** The emulators' clock: real time, or held at one instant so that uploads share a second. */
let heldAt: number | undefined;
const clock = () => heldAt ?? Date.now();

beforeAll(async () => {
  png = await lineSketch(512);
  jpeg = await lineSketch(512, 512, 'jpeg');
});

const second = (p: TestPipeline, key: string) => Math.floor(p.stack.oss.peek(key)!.lastModified / 1000);
const currentSketch = async (p: TestPipeline, jobKey: string) => (await p.jobs().getJob(jobIdOf(jobKey)))?.value.current.sketch.key;

describe('uploads announced by their events as they happen', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline({ now: clock });
  });
  afterAll(async () => {
    await p?.close();
  });

  for (const [first, last] of [
    ['jpg', 'png'],
    ['png', 'jpg'],
  ] as const) {
    it(`cat.${first}, then cat.${last} in the same second: cat.${last}, the newest upload, is the job`, async () => {
      const job = `sketches/tie-${first}/cat`;
      await p.put(`${job}.txt`, 'a cat on a wall');
      heldAt = Date.now();
      try {
        await p.put(`${job}.${first}`, first === 'png' ? png : jpeg);
        await p.waitFor(`cat.${first} recorded`, async () => (await currentSketch(p, job)) === `${job}.${first}`);
        await p.put(`${job}.${last}`, last === 'png' ? png : jpeg);
        await p.waitFor(`cat.${last} recorded`, async () => (await currentSketch(p, job)) === `${job}.${last}`);
      } finally {
        heldAt = undefined;
      }
      expect(second(p, `${job}.${first}`)).toBe(second(p, `${job}.${last}`));
      const m = await p.waitFor(`the manifest of cat.${last}`, () => (p.manifest(job)?.source.key === `${job}.${last}` ? p.manifest(job) : undefined));
      await p.idle();
      expect(p.manifest(job)!.source.key).toBe(`${job}.${last}`);
      expect(m.status).toBe('SUCCEEDED');
      expect(m.warnings).toContain(`several sketches share this name (cat.${last}, cat.${first}); the newest, cat.${last}, was used (uploaded in the same second: ordered by when sketchflow saw them)`);
      // Both events again, the older one last: nothing changes.
      for (const ext of [last, first]) {
        const stored = p.stack.oss.peek(`${job}.${ext}`)!;
        await p.fc.invoke(SUBMIT_FUNCTION, ossEvent(p.stack.oss.bucket, `${job}.${ext}`, { size: stored.body.length, eTag: stored.etag.replace(/"/g, '') }));
      }
      await p.idle();
      expect(await currentSketch(p, job)).toBe(`${job}.${last}`);
      expect(p.manifest(job)!.finishedAt).toBe(m.finishedAt);
    });
  }
});

describe('uploads both stored before either event is handled', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    // No timer: nothing but the events below looks at the bucket (the catch-up listing would
    // otherwise find both uploads first, with no event to order them).
    p = await startTestPipeline({ now: clock, timer: false });
  });
  afterAll(async () => {
    await p?.close();
  });

  /** Puts `body` at `key` without an event (a CopyObject of a file outside the watched prefix). */
  async function storeSilently(key: string, body: Buffer): Promise<void> {
    const source = `incoming/${key.replace(/\//g, '_')}`;
    await p.put(source, body);
    await p.client.copy(key, source);
  }

  function eventOf(key: string): Buffer {
    const stored = p.stack.oss.peek(key)!;
    return ossEvent(p.stack.oss.bucket, key, { size: stored.body.length, eTag: stored.etag.replace(/"/g, '') });
  }

  it('cat.jpg then cat.png in one second, events in that order, one redelivered: cat.png, with one DashScope task', async () => {
    const job = 'sketches/both/cat';
    await p.put(`${job}.txt`, 'a cat asleep');
    await p.idle(); // its event handled: no sketch yet
    heldAt = Date.now();
    try {
      await storeSilently(`${job}.jpg`, jpeg);
      await storeSilently(`${job}.png`, png);
      expect(second(p, `${job}.jpg`)).toBe(second(p, `${job}.png`));
      // The first event finds both: its own upload is the older (the other one's event is still to come).
      await p.fc.invoke(SUBMIT_FUNCTION, eventOf(`${job}.jpg`));
      expect(await currentSketch(p, job)).toBe(`${job}.png`);
      await p.fc.invoke(SUBMIT_FUNCTION, eventOf(`${job}.png`));
      await p.fc.invoke(SUBMIT_FUNCTION, eventOf(`${job}.jpg`)); // redelivered late: counted once
      expect(await currentSketch(p, job)).toBe(`${job}.png`);
      const m = await p.waitForManifest(job);
      await p.idle();
      expect(m.status).toBe('SUCCEEDED');
      expect(m.source.key).toBe(`${job}.png`);
    } finally {
      heldAt = undefined;
    }
    const tasks = p.stack.dashscope.records.creates.filter((c) => c.taskId && (c.sketchPath === `/${job}.png` || c.sketchPath === `/${job}.jpg`));
    expect(tasks.map((c) => c.sketchPath)).toEqual([`/${job}.png`]);
  });
});
