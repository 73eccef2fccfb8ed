/**
 * Two invocations finishing the same version (a poller slowed past its lease, and the next one
 * that takes over): both may write the manifest, but the version becomes terminal once, with one
 * state line — the soak-style log check found a second SUCCEEDED under load.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollerReport } from '../../lib/core/poller.js';
import { POLLER_FUNCTION } from '../../lib/local/pipeline.js';
import { timerEvent } from '../../lib/local/fc.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const JOB = 'sketches/race/twice';
let p: TestPipeline;
let held = false;
let release: (() => void) | undefined;

beforeAll(async () => {
  p = await startTestPipeline({
    timer: false,
    env: { POLL_BUDGET_SECONDS: '1' }, // a short lease, so a second poller can take over
    // A short life too: the stalled invocation's outputs lease lasts until it can no longer be
    // running (its timeout, plus a margin), and only then may the second write the outputs.
    pollerTimeout: 3,
    checkpoint: (name, jobKey) => {
      if (name === 'finalize:manifest-written' && jobKey === JOB && !held) {
        held = true;
        return new Promise<void>((resolve) => (release = resolve));
      }
    },
  });
});
afterAll(async () => {
  release?.();
  await p?.close();
});

describe('a version finished by two invocations', () => {
  it('is logged terminal once', async () => {
    await p.put(`${JOB}.json`, JSON.stringify({ prompt: 'a windmill' }));
    await p.put(`${JOB}.png`, await lineSketch(512));
    // The first poller wrote the manifest and stalls before recording the terminal state.
    await p.waitFor('the first finalize to stall', () => held);
    // Once its leases have run out, another poller finds the version FINALIZING and finishes it.
    await p.waitFor(
      'a second poller to finish the job',
      async () => {
        const report = (await p.fc.invoke(POLLER_FUNCTION, timerEvent('test'))) as PollerReport;
        return report.ran && p.states(JOB).some((r) => r.state === 'SUCCEEDED');
      },
      30_000,
    );
    release!();
    await p.idle();
    expect(p.states(JOB).filter((r) => r.state === 'SUCCEEDED')).toHaveLength(1);
    expect(p.manifest(JOB)?.status).toBe('SUCCEEDED');
  });
});
