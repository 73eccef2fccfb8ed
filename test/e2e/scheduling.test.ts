/**
 * SPEC §4 invariant 3 and the throughput promise: with 10 sketches dropped at once and
 * MAX_IN_FLIGHT=2, DashScope never has more than 2 of our tasks PENDING/RUNNING, its one slot is
 * never idle while work is queued, and all 10 finish.
 *
 * DashScope's clock is frozen and moved only to end the running task, and only once the pipeline
 * has a second task waiting PENDING behind it. So the test does not depend on machine speed: a
 * pipeline that kept fewer tasks waiting would never reach that point and the test would time out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ timeScale: 1e6, env: { MAX_IN_FLIGHT: '2' } });
});
afterAll(async () => {
  await p?.close();
});

describe('scheduling', () => {
  it('10 at once: at most 2 in flight, the model never idles, all finish', async () => {
    const sim = p.stack.dashscope;
    const sketch = await lineSketch(512);
    const names = Array.from({ length: 10 }, (_, i) => `sketches/batch/s${i}`);
    await Promise.all(names.map((n) => p.put(`${n}.json`, JSON.stringify({ prompt: `sketch ${n}` }))));
    await Promise.all(names.map((n) => p.put(`${n}.png`, sketch)));

    const ours = () => sim.records.creates.filter((c) => c.taskId).map((c) => sim.task(c.taskId!)!);
    for (let ended = 0; ended < 10; ended++) {
      const waiting = Math.min(2, 10 - ended);
      const running = await p.waitFor(`${waiting} task(s) in flight after ${ended} ended`, async () => {
        await sim.flush();
        const live = ours().filter((t) => t.status === 'PENDING' || t.status === 'RUNNING');
        return live.length === waiting ? live.find((t) => t.status === 'RUNNING') : undefined;
      });
      sim.advance(running.scheduledAt! + running.duration - sim.now() + 1);
      await sim.flush();
    }
    const manifests = await Promise.all(names.map((n) => p.waitForManifest(n)));
    expect(manifests.map((m) => m.status)).toEqual(Array(10).fill('SUCCEEDED'));

    expect(sim.records.maxInFlight[sim.apiKeyId]).toBe(2);
    expect(sim.records.creates.filter((c) => c.taskId)).toHaveLength(10);
    // The slot's busy intervals follow each other without a gap (simulated time).
    const busy = [...sim.records.busy].sort((a, b) => a.start - b.start);
    expect(busy).toHaveLength(10);
    expect(busy.slice(1).map((b, i) => b.start - busy[i]!.end!)).toEqual(Array(9).fill(0));
  });
});
