/**
 * SPEC §4 "one scheduler at a time": two poller invocations at once — one works, the other exits
 * at once; a poller that dies mid-tick leaves nothing stuck (its lease expires, its slots are
 * picked up by the next one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { timerEvent } from '../../lib/local/fc.js';
import { POLLER_FUNCTION } from '../../lib/local/pipeline.js';
import type { PollerReport } from '../../lib/core/poller.js';

let p: TestPipeline;
let dieOnce = false;
let died = false;

beforeAll(async () => {
  p = await startTestPipeline({
    timer: false, // the test fires the poller itself
    timeScale: 0.02,
    env: { POLL_BUDGET_SECONDS: '2' },
    // A death, not an error: the poller stops dead mid-tick (no finally blocks run, its lease stays).
    checkpoint: (name) => {
      if (dieOnce && name === 'poller:slots-serviced') {
        dieOnce = false;
        died = true;
        return new Promise<void>(() => {});
      }
    },
  });
});
afterAll(async () => {
  await p?.close();
});

describe('one scheduler', () => {
  it('two invocations at once: one works, the other exits at once', async () => {
    await p.put('sketches/poll/a.json', JSON.stringify({ prompt: 'a' }));
    await p.put('sketches/poll/a.png', await lineSketch(512));
    await p.idle();
    const started = Date.now();
    const timed = async () => {
      const report = (await p.fc.invoke(POLLER_FUNCTION, timerEvent('test'))) as PollerReport;
      return { report, ms: Date.now() - started };
    };
    const [x, y] = await Promise.all([timed(), timed()]);
    const worker = x.report.ran ? x : y;
    const other = x.report.ran ? y : x;
    expect(worker.report.ran).toBe(true);
    expect(other.report).toMatchObject({ ran: false, reason: 'another poller holds the lease', passes: 0 });
    expect(other.ms).toBeLessThan(worker.ms);
    await p.waitForManifest('sketches/poll/a');
  });

  it('a poller that dies mid-tick: the next one takes over after the lease expires, nothing stuck', async () => {
    await p.put('sketches/poll/b.json', JSON.stringify({ prompt: 'b' }));
    await p.put('sketches/poll/b.png', await lineSketch(512));
    await p.waitFor('b submitted', () => p.submissions('sketches/poll/b.png') === 1);
    await p.idle();
    dieOnce = true;
    void p.fc.invoke(POLLER_FUNCTION, timerEvent('test')).catch(() => {}); // it never returns (FC would time it out)
    await p.waitFor('the poller to die', () => died);
    // Its lease is still held: an immediate successor exits...
    expect(((await p.fc.invoke(POLLER_FUNCTION, timerEvent('test'))) as PollerReport).ran).toBe(false);
    // ...and once the lease has expired, the next timer firing finishes the job.
    const report = await p.waitFor('a poller to take over', async () => {
      const r = (await p.fc.invoke(POLLER_FUNCTION, timerEvent('test'))) as PollerReport;
      return r.ran ? r : undefined;
    });
    expect(report.ran).toBe(true);
    const m = await p.waitForManifest('sketches/poll/b');
    expect(m.status).toBe('SUCCEEDED');
    expect(p.submissions('sketches/poll/b.png')).toBe(1);
  });
});
