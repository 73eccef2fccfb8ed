/**
 * SPEC §4 invariant 6: at most MAX_IMAGES_PER_DAY images are requested per day across all
 * instances; beyond it jobs wait QUEUED with a reason the CLI shows, and end BudgetExceeded only
 * after MAX_QUEUE_HOURS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { pipelineStatus } from '../../lib/core/operations.js';
import { createRuntime } from '../../lib/runtime.js';
import { createSubmitHandler } from '../../functions/submit/index.js';
import { ASYNC_RETRIES, SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import type { FcHandler } from '../../lib/local/fc.js';

let p: TestPipeline;

beforeAll(async () => {
  // 0.001 h = 3.6 s of waiting before a job gives up.
  p = await startTestPipeline({ env: { MAX_IMAGES_PER_DAY: '4', MAX_QUEUE_HOURS: '0.001' } });
  // Three submit instances, each with its own runtime (clients, caches), as FC scales out: events
  // are dealt to them in turn. Nothing but the table is shared.
  const instances = [0, 1, 2].map(() => createSubmitHandler({ env: p.env, logSink: (line) => p.logs.push(line) }) as FcHandler);
  let next = 0;
  p.fc.register({ name: SUBMIT_FUNCTION, handler: (event, context) => instances[next++ % instances.length]!(event, context), timeout: 60, ...ASYNC_RETRIES.submit });
});
afterAll(async () => {
  await p?.close();
});

describe('daily image budget', () => {
  it('holds across concurrent submit instances; the rest wait with a reason, then end BudgetExceeded', async () => {
    const sketch = await lineSketch(512);
    const names = ['a', 'b', 'c', 'd', 'e'].map((x) => `sketches/budget/${x}`);
    await Promise.all(names.map((n, i) => p.put(`${n}.json`, JSON.stringify({ prompt: n, n: i === 0 ? 2 : 1 }))));
    await Promise.all(names.map((n) => p.put(`${n}.png`, sketch)));

    // The first to be submitted finish; the budget (4 images) stops the rest. (Not "3 images
    // created": on a busy machine a create may time out, and its images stay counted, SPEC §4.2.)
    const runtime = createRuntime({ env: p.env, logSink: () => {} });
    const d = p.stack.describe();
    const deps = runtime.depsFor({ credentials: { accessKeyId: d.oss.accessKeyId, accessKeySecret: d.oss.accessKeySecret } }, 'poller');
    const waiting = await p.waitFor('jobs waiting on the budget', async () => {
      const s = await pipelineStatus(deps);
      const w = s.jobs.filter((j) => j.waitingFor);
      return w.length > 0 ? { s, w } : undefined;
    }, 60_000);
    expect(waiting.w[0]!.waitingFor).toMatch(/daily image budget \(MAX_IMAGES_PER_DAY=4\) is used up/);
    expect(waiting.s.budget.max).toBe(4);

    const manifests = await Promise.all(names.map((n) => p.waitForManifest(n, 60_000)));
    const requested = p.stack.dashscope.records.creates.filter((c) => c.taskId).reduce((s, c) => s + (c.n ?? 0), 0);
    expect(requested).toBeLessThanOrEqual(4);
    const over = manifests.filter((m) => m.status === 'FAILED');
    expect(over.length).toBeGreaterThan(0);
    for (const m of over) {
      expect(m.error?.code).toBe('BudgetExceeded');
      expect(m.error?.message).toContain('MAX_IMAGES_PER_DAY=4');
    }
    const seen = JSON.stringify({
      manifests: manifests.map((m) => [m.source.key, m.status, m.error?.code, m.usage.imageCount, m.task?.attempts]),
      creates: p.stack.dashscope.records.creates.map((c) => [c.sketchPath, c.n, c.taskId, c.status]),
    });
    expect(manifests.filter((m) => m.status === 'SUCCEEDED').reduce((s, m) => s + m.usage.imageCount, 0), seen).toBe(requested);
  }, 120_000);
});
