/**
 * A failure decided at intake while another writer still holds the job's outputs lease (a slow
 * finalize of the version before, a duplicate delivery): the submit leaves the manifest to that
 * writer or, once its lease ends, to the poller's sweep. It does not fail the invocation (FC would
 * retry it, and `sketchflow local`'s backfill would stop on it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdOf } from '../../lib/contract/keys.js';
import { timerEvent } from '../../lib/local/fc.js';
import { POLLER_FUNCTION, SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ timer: false });
});
afterAll(async () => {
  await p?.close();
});

describe('outputs held by another writer', () => {
  it('an intake failure waits for the lease, the invocation succeeds, and the sweep writes the manifest', async () => {
    const jobKey = 'sketches/busy/a';
    const jobId = jobIdOf(jobKey);
    await p.put(`${jobKey}.json`, JSON.stringify({ prompt: 'first' }));
    await p.put(`${jobKey}.png`, await lineSketch(512));
    await p.waitFor('SUCCEEDED', () => p.states(jobKey).some((r) => r.state === 'SUCCEEDED'));
    await p.idle();

    // Another invocation, still alive, holds the outputs for a while.
    const jobs = p.jobs();
    const first = (await jobs.getJob(jobId))!.value.current.id;
    const leaseMs = 60_000; // given back below, never waited out
    expect(await jobs.holdOutputs(jobId, first, 'another-writer', Date.now() + leaseMs, Date.now())).toBe('held');

    const before = p.fc.records.length;
    await p.put(`${jobKey}.json`, JSON.stringify({ prompt: 'second', styel: 'anime' }));
    await p.waitFor('the new version FINALIZING', () => p.states(jobKey).some((r) => r.state === 'FINALIZING' && r.version !== first));
    await p.idle();
    const submits = p.fc.records.slice(before).filter((r) => r.fn === SUBMIT_FUNCTION);
    expect(submits.map((r) => r.error ?? '').filter(Boolean)).toEqual([]);
    expect(p.logRecords().some((r) => r.jobKey === jobKey && String(r.msg).startsWith('another invocation is writing'))).toBe(true);
    expect(p.manifest(jobKey)?.request?.prompt).toBe('first'); // not overwritten under the lease

    // Once the other writer is done (it gives its lease back), a poller pass finishes the version.
    await jobs.releaseOutputs(jobId, first, 'another-writer');
    await p.waitFor('the InvalidSidecar manifest', async () => {
      await p.fc.invoke(POLLER_FUNCTION, timerEvent());
      return p.manifest(jobKey)?.error?.code === 'InvalidSidecar';
    });
    expect(p.states(jobKey).at(-1)).toMatchObject({ state: 'FAILED' });
  });
});
