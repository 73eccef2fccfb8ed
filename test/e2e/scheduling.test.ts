/**
 * SPEC §4 invariant 3 and the throughput promise: with 10 sketches dropped at once and
 * MAX_IN_FLIGHT=2, DashScope never has more than 2 of our tasks PENDING/RUNNING, its one slot is
 * never idle while work is queued, and all 10 finish.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  // DashScope's limits scale with its clock: 2 submissions per simulated second.
  p = await startTestPipeline({ timeScale: 0.03, env: { MAX_IN_FLIGHT: '2' }, dashscope: { rateWindowMs: 30 } });
});
afterAll(async () => {
  await p?.close();
});

describe('scheduling', () => {
  it('10 at once: at most 2 in flight, the model never idles, all finish', async () => {
    const sketch = await lineSketch(512);
    const names = Array.from({ length: 10 }, (_, i) => `sketches/batch/s${i}`);
    await Promise.all(names.map((n) => p.put(`${n}.json`, JSON.stringify({ prompt: `sketch ${n}` }))));
    await Promise.all(names.map((n) => p.put(`${n}.png`, sketch)));
    const manifests = await Promise.all(names.map((n) => p.waitForManifest(n, 60_000)));
    expect(manifests.map((m) => m.status)).toEqual(Array(10).fill('SUCCEEDED'));

    const records = p.stack.dashscope.records;
    expect(records.maxInFlight[p.stack.dashscope.apiKeyId]).toBe(2);
    expect(records.creates.filter((c) => c.taskId)).toHaveLength(10);

    // The slot's busy intervals, in simulated time, follow each other without a gap: when one
    // task ends, the next was already waiting PENDING behind it.
    const busy = [...records.busy].sort((a, b) => a.start - b.start);
    expect(busy).toHaveLength(10);
    const gaps = busy.slice(1).map((b, i) => b.start - busy[i]!.end!);
    if (Math.max(...gaps) > 0) {
      console.log(JSON.stringify(busy.map((b) => ({ s: b.realStart, e: b.realEnd, t: b.taskId.slice(0, 6) }))));
      console.log(JSON.stringify(records.creates.map((c) => ({ at: c.realAt, st: c.status, code: c.code, t: c.taskId?.slice(0, 6) }))));
      console.log(p.logs.filter((l) => l.includes('job state') || l.includes('warn')).map((l) => { const j = JSON.parse(l); return `${j.time} ${j.fn} ${j.jobKey} ${j.state} ${j.refused ?? ''} ${j.msg}`; }).join('\n'));
    }
    expect(Math.max(...gaps)).toBe(0);
  });
});
