/**
 * SPEC §1 version rule: a version is each file's key, ETag and Last-Modified second. Uploading the
 * same file again (identical bytes, so the same ETag, in a later second) is a new version — what
 * the README and the MissingPrompt and TaskLost messages tell users to do — while the same upload
 * delivered again is not; two identical uploads within one second cannot be told apart (OSS keeps
 * whole seconds) and are one version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import { ossEvent } from '../helpers/events.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;
/** The emulators' clock: real time, or held at one instant (uploads then share a Last-Modified second). */
let heldAt: number | undefined;

beforeAll(async () => {
  p = await startTestPipeline({ now: () => heldAt ?? Date.now() });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

function eventFor(key: string): Buffer {
  const stored = p.stack.oss.peek(key)!;
  return ossEvent(p.stack.oss.bucket, key, { size: stored.body.length, eTag: stored.etag.replace(/"/g, '') });
}

/** Waits until the OSS clock is in a later second than `key`'s Last-Modified. */
async function nextSecondAfter(key: string): Promise<void> {
  const second = Math.floor(p.stack.oss.peek(key)!.lastModified / 1000);
  await p.waitFor(`a second after ${key} was written`, () => Math.floor(Date.now() / 1000) > second, 3000);
}

describe('uploading the same file again', () => {
  it('identical bytes of a finished job, in a later second: a new version, a new task, a new manifest; its event again: nothing', async () => {
    await p.put('sketches/re/a.txt', 'a lighthouse');
    await p.put('sketches/re/a.png', sketch);
    const first = await p.waitForManifest('sketches/re/a');
    expect(first.status).toBe('SUCCEEDED');
    const firstEtag = p.stack.oss.peek('sketches/re/a.png')!.etag;

    await nextSecondAfter('sketches/re/a.png');
    await p.put('sketches/re/a.png', sketch);
    expect(p.stack.oss.peek('sketches/re/a.png')!.etag).toBe(firstEtag); // OSS: same bytes, same ETag
    const second = await p.waitFor('a second manifest', () => {
      const m = p.manifest('sketches/re/a');
      return m && m.task?.id !== first.task?.id ? m : undefined;
    });
    expect(second.status).toBe('SUCCEEDED');
    // The same bytes and sidecar; the manifest says which upload of them it describes.
    const { lastModified: firstAt, ...firstFiles } = first.source;
    const { lastModified: secondAt, ...secondFiles } = second.source;
    expect(secondFiles).toEqual(firstFiles);
    expect(Date.parse(secondAt!)).toBeGreaterThan(Date.parse(firstAt!));
    expect(second.finishedAt > first.finishedAt).toBe(true);
    await p.idle();
    expect(p.submissions('sketches/re/a.png')).toBe(2);

    // The second upload's event delivered again (FC's at-least-once), twice: one version still.
    await p.fc.invoke(SUBMIT_FUNCTION, eventFor('sketches/re/a.png'));
    await p.fc.invoke(SUBMIT_FUNCTION, eventFor('sketches/re/a.png'));
    await p.idle();
    expect(p.submissions('sketches/re/a.png')).toBe(2);
    expect(p.manifest('sketches/re/a')!.finishedAt).toBe(second.finishedAt);
  });

  it('two identical uploads within one second are one version: OSS records nothing that tells them apart', async () => {
    await p.put('sketches/re/b.txt', 'a windmill');
    heldAt = Date.now();
    try {
      await p.put('sketches/re/b.png', sketch);
      await p.put('sketches/re/b.png', sketch);
      await p.waitForManifest('sketches/re/b');
      await p.idle();
    } finally {
      heldAt = undefined;
    }
    expect(p.manifest('sketches/re/b')!.status).toBe('SUCCEEDED');
    expect(p.submissions('sketches/re/b.png')).toBe(1);
  });
});

describe('what the MissingPrompt message says works', () => {
  it('the message names the ways on; adding the sidecar alone starts the job again', async () => {
    await p.put('sketches/re/c.png', sketch);
    const failed = await p.waitForManifest('sketches/re/c');
    expect(failed.error?.code).toBe('MissingPrompt');
    expect(failed.error?.message).toMatch(/add c\.json or c\.txt next to it \(that starts it again\), or upload the sketch again \(the same file is fine\) with x-oss-meta-prompt set or after putting a prompt in a _defaults\.json$/);
    await p.put('sketches/re/c.txt', 'a red barn');
    const ok = await p.waitFor('a succeeded manifest', () => (p.manifest('sketches/re/c')?.status === 'SUCCEEDED' ? p.manifest('sketches/re/c') : undefined));
    expect(ok.request?.prompt).toBe('a red barn');
  });

  it('the same file again with x-oss-meta-prompt: processed with that prompt', async () => {
    await p.put('sketches/re/d.png', sketch);
    expect((await p.waitForManifest('sketches/re/d')).error?.code).toBe('MissingPrompt');
    await nextSecondAfter('sketches/re/d.png');
    await p.put('sketches/re/d.png', sketch, { prompt: encodeURIComponent('a tall ship') });
    const ok = await p.waitFor('a succeeded manifest', () => (p.manifest('sketches/re/d')?.status === 'SUCCEEDED' ? p.manifest('sketches/re/d') : undefined));
    expect(ok.request?.prompt).toBe('a tall ship');
  });

  it('a _defaults.json, then the same file again: processed with the folder’s prompt', async () => {
    await p.put('sketches/re/folder/e.png', sketch);
    expect((await p.waitForManifest('sketches/re/folder/e')).error?.code).toBe('MissingPrompt');
    // A _defaults.json never regenerates finished jobs (that would bill a folder again): the upload does.
    await p.put('sketches/re/folder/_defaults.json', JSON.stringify({ prompt: 'a quiet harbour' }));
    await p.idle();
    expect(p.manifest('sketches/re/folder/e')!.error?.code).toBe('MissingPrompt');
    await nextSecondAfter('sketches/re/folder/e.png');
    await p.put('sketches/re/folder/e.png', sketch);
    const ok = await p.waitFor('a succeeded manifest', () => (p.manifest('sketches/re/folder/e')?.status === 'SUCCEEDED' ? p.manifest('sketches/re/folder/e') : undefined));
    expect(ok.request?.prompt).toBe('a quiet harbour');
  });
});
