/**
 * The poller's rest (SPEC §4, cost): while DashScope works on a task that cannot end yet, the
 * poller stops and asks Function Compute for one delayed kick instead of being billed for sleeping;
 * it wakes one poll interval before the task could end, so results still land promptly, and the
 * kicks never multiply into parallel chains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { POLLER_FUNCTION } from '../../lib/local/pipeline.js';
import type { PollerReport } from '../../lib/core/poller.js';

let p: TestPipeline;

beforeAll(async () => {
  // Tasks of 4 s ± 25 % in real time, and a pipeline that knows they take at least 3 s. The rest
  // window is wide (about 2 s) so that a slow machine still sees it open.
  p = await startTestPipeline({ timeScale: 0.2, timer: false, env: { TASK_MIN_SECONDS: '3', POLL_BUDGET_SECONDS: '20' } });
});
afterAll(async () => {
  await p?.close();
});

describe('the poller rests outside Function Compute', () => {
  it('rests while tasks run once it knows how long they take, woken by its delayed kick, delivering promptly', async () => {
    const sketch = await lineSketch(512);
    const run = async (names: string[]) => {
      for (const n of names) await p.put(`${n}.json`, JSON.stringify({ prompt: n }));
      for (const n of names) await p.put(`${n}.png`, sketch);
      return Promise.all(names.map((n) => p.waitForManifest(n, 40_000)));
    };
    // Three tasks already seen (the poller rests only on what it has observed): the shortest took 3 s.
    for (const ms of [3000, 3400, 3800]) await p.jobs().recordTaskDuration(ms);
    const learnedAt = Date.now();
    const names = ['a', 'b', 'c'].map((x) => `sketches/rest/${x}`);
    const manifests = await run(names);
    expect(manifests.map((m) => m.status)).toEqual(Array(3).fill('SUCCEEDED'));

    const pollers = p.fc.records.filter((r) => r.fn === POLLER_FUNCTION && r.outcome === 'ok' && r.startedAt >= learnedAt);
    expect(pollers.some((r) => (r.result as PollerReport).restUntil !== undefined)).toBe(true);

    // Billed poller time is well under DashScope's working time: it did not sleep through it.
    const busy = p.stack.dashscope.records.busy.filter((b) => b.realStart >= learnedAt);
    const billed = pollers.reduce((s, r) => s + (r.endedAt! - r.startedAt), 0);
    const working = busy.reduce((s, b) => s + (b.realEnd! - b.realStart), 0);
    expect(billed).toBeLessThan(working * 0.8);

    // No runaway: with no timer, every poller run came from a submit or a kick, one at a time.
    expect(pollers.length).toBeLessThan(30);
    const ran = pollers.filter((r) => (r.result as PollerReport).ran);
    expect(ran.some((r, i) => ran.some((o, j) => j !== i && o.startedAt < r.endedAt! && r.startedAt < o.endedAt!))).toBe(false);

    // Results still land within about a poll interval (plus the copy) of DashScope finishing.
    for (const b of busy) {
      const m = manifests.find((x) => x.task?.id === b.taskId)!;
      const put = p.stack.oss.records.find((r) => r.action === 'oss:PutObject' && r.key === `${m.source.key.replace(/\.png$/, '')}.result.json`)!;
      expect(put.at - b.realEnd!).toBeLessThan(1500);
    }
  });
});
