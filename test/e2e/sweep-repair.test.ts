/**
 * The sweep's last resort (lib/core/sweep.ts): a version recorded in flight whose slot is gone —
 * a state no single crash should leave, so it is made here by rewriting the rows. With a task, the
 * version is adopted into a free slot and delivered without paying again; without one, it is put
 * back in the queue, and that change of state is logged like every other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdOf } from '../../lib/contract/keys.js';
import type { JobState } from '../../lib/core/records.js';
import { timerEvent } from '../../lib/local/fc.js';
import { POLLER_FUNCTION } from '../../lib/local/pipeline.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ timer: false });
});
afterAll(async () => {
  await p?.close();
});

/** Runs a job to SUCCEEDED, then rewrites it as `state` without a slot, last touched long ago. */
async function strand(jobKey: string, state: JobState, keepTask: boolean): Promise<{ taskId: string }> {
  await p.put(`${jobKey}.json`, JSON.stringify({ prompt: jobKey }));
  await p.put(`${jobKey}.png`, await lineSketch(512));
  // The manifest is written just before the terminal state is recorded: wait for the record.
  await p.waitFor('SUCCEEDED', () => p.states(jobKey).some((r) => r.state === 'SUCCEEDED'));
  const jobs = p.jobs();
  const jobId = jobIdOf(jobKey);
  const row = (await jobs.getJob(jobId))!;
  const v = row.value.current;
  const stranded = { ...v, state, taskId: keepTask ? v.taskId : undefined, updatedAt: Date.now() - 3600_000 };
  await jobs.putJob(jobId, { ...row.value, current: stranded }, row.rev);
  await jobs.markActive({ jobId, jobKey, versionId: v.id, since: stranded.updatedAt });
  await p.client.delete(`${jobKey}.result.json`); // so the next manifest is the repair's
  return { taskId: v.taskId! };
}

/** The manifest is written just before the terminal state is recorded: wait for the record too. */
async function settled(jobKey: string, before: number): Promise<void> {
  await p.waitFor(`${jobKey} SUCCEEDED`, () => p.states(jobKey).slice(before).some((r) => r.state === 'SUCCEEDED'));
}

describe('a version in flight without a slot', () => {
  it('with its task: adopted into a free slot and delivered, not paid again', async () => {
    const jobKey = 'sketches/repair/with-task';
    const { taskId } = await strand(jobKey, 'SUBMITTED', true);
    const before = p.states(jobKey).length;
    await p.fc.invoke(POLLER_FUNCTION, timerEvent());
    const m = await p.waitForManifest(jobKey);
    expect(m.status).toBe('SUCCEEDED');
    await settled(jobKey, before);
    expect(m.task?.id).toBe(taskId);
    expect(p.submissions(`${jobKey}.png`)).toBe(1);
    expect(p.logRecords().some((r) => r.msg === 'in-flight version without a slot' && r.jobKey === jobKey)).toBe(true);
    expect(p.states(jobKey).slice(before).map((r) => r.state)).toEqual(['FINALIZING', 'SUCCEEDED']);
  });

  it('without a task: queued again, with a state line saying why, and then delivered', async () => {
    const jobKey = 'sketches/repair/no-task';
    await strand(jobKey, 'SUBMITTING', false);
    const before = p.states(jobKey).length;
    await p.fc.invoke(POLLER_FUNCTION, timerEvent());
    const m = await p.waitForManifest(jobKey);
    expect(m.status).toBe('SUCCEEDED');
    await settled(jobKey, before);
    const after = p.states(jobKey).slice(before);
    expect(after[0]).toMatchObject({ state: 'QUEUED', reason: 'no task and no slot: queued again' });
    expect(after.map((r) => r.state).filter((s) => s !== 'RUNNING')).toEqual(['QUEUED', 'SUBMITTING', 'SUBMITTED', 'FINALIZING', 'SUCCEEDED']);
  });
});
