/**
 * A writer gives the job's outputs lease back as soon as its version is no longer its to finish.
 * The lease runs to the writer's deadline (plus a margin) so no slow write of it can land later;
 * a writer that keeps it after giving up makes the newer version's finalize wait that long
 * (the same-second test saw 15 s and more of "another writer is still at its outputs").
 *
 * Here a completion event's pass takes the lease with FINALIZING, and a new upload supersedes the
 * version before its results are copied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const JOB = 'sketches/lease/back';
let p: TestPipeline;
let held = false;
let release: (() => void) | undefined;

beforeAll(async () => {
  p = await startTestPipeline({
    // Long enough that waiting the lease out fails the test: only a returned lease passes.
    pollerTimeout: 60,
    checkpoint: (name) => {
      // The event's pass has set the version FINALIZING (taking the lease) and not yet copied.
      if (name === 'events:slots-tracked' && !held && p?.states(JOB).some((r) => r.state === 'FINALIZING')) {
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

describe('the outputs lease of a superseded version', () => {
  it('is given back by the completion event that took it, so the new version finishes at once', async () => {
    await p.put(`${JOB}.json`, JSON.stringify({ prompt: 'a windmill' }));
    await p.put(`${JOB}.png`, await lineSketch(512));
    await p.waitFor('the event pass to stall after FINALIZING', () => held);
    const first = p.states(JOB).find((r) => r.state === 'FINALIZING')!.version;
    await p.put(`${JOB}.json`, JSON.stringify({ prompt: 'a windmill at night' }));
    await p.waitFor('the new version recorded', () => p.states(JOB).some((r) => r.version !== first));
    release!();
    const m = await p.waitFor('the new version\'s manifest', () => (p.manifest(JOB)?.request?.prompt === 'a windmill at night' ? p.manifest(JOB) : undefined), 10_000);
    await p.idle();
    expect(m.status).toBe('SUCCEEDED');
    const waited = p.logRecords().filter((r) => JSON.stringify(r.error ?? '').includes('OutputsBusyError'));
    expect(waited).toEqual([]);
  });
});

describe('the outputs lease of a writer stopped by an error', () => {
  const job = 'sketches/lease/error';
  let q: TestPipeline;
  let thrown = false;
  beforeAll(async () => {
    q = await startTestPipeline({
      pollerTimeout: 60,
      // An error with no write in flight (a checkpoint throws, as a store's error reply would).
      checkpoint: (name, jobKey) => {
        if (name === 'finalize:results-copied' && jobKey === job && !thrown) {
          thrown = true;
          throw new Error('injected error after the copy');
        }
      },
    });
  });
  afterAll(async () => {
    await q?.close();
  });

  it('is given back at once: the next invocation finishes the version without waiting for it', async () => {
    await q.put(`${job}.json`, JSON.stringify({ prompt: 'a lighthouse' }));
    await q.put(`${job}.png`, await lineSketch(512));
    const m = await q.waitForManifest(job, 10_000);
    expect(m.status).toBe('SUCCEEDED');
    expect(thrown).toBe(true);
    const stopped = q.logRecords().find((r) => String(r.msg).startsWith('finalizing failed') && JSON.stringify(r.error).includes('injected error'));
    expect(stopped).toBeDefined();
    // Nobody waited for the lease of the invocation that stopped.
    const waitedForIt = q.logRecords().filter((r) => JSON.stringify(r.error ?? '').includes(`invocation ${String(stopped!.requestId)}`));
    expect(waitedForIt).toEqual([]);
  });
});
