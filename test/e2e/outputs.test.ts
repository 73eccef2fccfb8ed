/**
 * SPEC §4 invariant 4: writing results and manifests triggers nothing. The emulator delivers
 * those events to the submit handler exactly as the real trigger would; the handler must skip
 * them by name, with no Tablestore, OSS or DashScope call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ossEvent } from '../helpers/events.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ timer: false });
});
afterAll(async () => {
  await p?.close();
});

describe('outputs trigger nothing', () => {
  it('result and manifest uploads reach the submit function and are skipped without I/O', async () => {
    await p.put('sketches/out/a.json', JSON.stringify({ prompt: 'x', n: 2 }));
    await p.put('sketches/out/a.png', await lineSketch(512));
    await p.waitForManifest('sketches/out/a');
    await p.idle();
    const outputEvents = p.fc.records.filter((r) => r.fn === SUBMIT_FUNCTION && JSON.stringify(r.result ?? '').includes('an output of sketchflow'));
    // result-1, result-2 and the manifest were each delivered to submit, and each was skipped
    expect(outputEvents).toHaveLength(3);

    const before = { ots: p.stack.tablestore.records.length, oss: p.stack.oss.records.length, ds: p.stack.dashscope.records.creates.length };
    for (const key of ['sketches/out/a.result-1.png', 'sketches/out/a.result.json', 'sketches/out/a.result-12.png']) {
      const result = (await p.fc.invoke(SUBMIT_FUNCTION, ossEvent(p.stack.oss.bucket, key, { eTag: 'ABC' }))) as { outcomes: Array<{ action: string }> };
      expect(result.outcomes[0]!.action).toBe('skipped');
    }
    expect({ ots: p.stack.tablestore.records.length, oss: p.stack.oss.records.length, ds: p.stack.dashscope.records.creates.length }).toEqual(before);
  });

  it('events from another bucket or outside the prefix are skipped', async () => {
    const a = (await p.fc.invoke(SUBMIT_FUNCTION, ossEvent('other-bucket', 'sketches/x.png', { size: 1 }))) as { outcomes: Array<{ action: string }> };
    const b = (await p.fc.invoke(SUBMIT_FUNCTION, ossEvent(p.stack.oss.bucket, 'elsewhere/x.png', { size: 1 }))) as { outcomes: Array<{ action: string }> };
    expect([a.outcomes[0]!.action, b.outcomes[0]!.action]).toEqual(['skipped', 'skipped']);
  });

  it('a malformed event is dropped with a clear log line, not retried forever', async () => {
    const result = (await p.fc.invoke(SUBMIT_FUNCTION, Buffer.from('{"events":[{"eventName":"x"}]}'))) as { rejected?: string };
    // Only what the pipeline reads is required (issue 13 run 8): the record's bucket and key.
    expect(result.rejected).toContain('events.0.oss');
    expect(p.logs.some((l) => l.includes('event is not an OSS trigger event; dropped'))).toBe(true);
  });
});
