/**
 * Issue 16 end to end, through the real handlers on the stand-ins: each model gets its own
 * request shape and its manifest records it; an unknown model and a field its model does not take
 * fail with a manifest saying so; each model has its own slots, so a backlog on one never holds
 * another back and each stays within its own in-flight bound; the CNY budget counts each model's
 * price; and a create whose answer was lost is adopted by its own model's reconciliation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineStatus } from '../../lib/core/operations.js';
import type { DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { dimensions, lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { createRuntime } from '../../lib/runtime.js';

const LITE = 'wanx-sketch-to-image-lite';
const EDIT = 'wanx2.1-imageedit';
const WAN = 'wan2.5-i2i-preview';

/** What an operator command (status) runs on, against the pipeline's stand-ins. */
function coreDepsOf(p: TestPipeline) {
  const d = p.stack.describe();
  return createRuntime({ env: p.env, logSink: () => {} }).depsFor({ credentials: { accessKeyId: d.oss.accessKeyId, accessKeySecret: d.oss.accessKeySecret } }, 'poller');
}

/** The model of each accepted create, by task id (from the body DashScope received). */
const modelsOfTasks = (sim: DashScopeSimulator) => new Map(sim.records.creates.filter((c) => c.taskId).map((c) => [c.taskId!, (c.body as { model: string }).model]));

/** Tasks PENDING or RUNNING now, per model. */
function liveByModel(sim: DashScopeSimulator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, model] of modelsOfTasks(sim)) {
    const s = sim.task(id)?.status;
    if (s === 'PENDING' || s === 'RUNNING') out[model] = (out[model] ?? 0) + 1;
  }
  return out;
}

/** The most tasks of each model that were PENDING or RUNNING at once, over the whole run. */
function maxLiveByModel(sim: DashScopeSimulator): Record<string, number> {
  const models = modelsOfTasks(sim);
  const live: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const t of sim.records.transitions) {
    const model = models.get(t.taskId);
    if (!model) continue;
    if (t.from === null) live[model] = (live[model] ?? 0) + 1;
    else if (t.to !== 'PENDING' && t.to !== 'RUNNING' && (t.from === 'PENDING' || t.from === 'RUNNING')) live[model] = (live[model] ?? 0) - 1;
    max[model] = Math.max(max[model] ?? 0, live[model] ?? 0);
  }
  return max;
}

describe('each model, its own request (tasks run)', () => {
  let p: TestPipeline;
  let house: Buffer;
  beforeAll(async () => {
    p = await startTestPipeline();
    house = await lineSketch(1024, 768);
  });
  afterAll(async () => {
    await p?.close();
  });

  it('sends each body in its model\'s shape; the manifests record the model; results differ by model', async () => {
    const jobs = {
      lite: { model: LITE, prompt: 'a house', style: '<anime>' },
      doodle: { model: EDIT, prompt: 'a house', is_sketch: true, seed: 5 },
      wan: { model: WAN, prompt: 'a house', negative_prompt: 'text', size: '1280*960' },
    };
    for (const [name, sidecar] of Object.entries(jobs)) {
      await p.put(`sketches/models/${name}.json`, JSON.stringify(sidecar));
      await p.put(`sketches/models/${name}.png`, house);
    }
    const [lite, doodle, wan] = await Promise.all(Object.keys(jobs).map((n) => p.waitForManifest(`sketches/models/${n}`)));
    expect([lite, doodle, wan].map((m) => m!.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(lite!.request).toEqual({ model: LITE, prompt: 'a house', parameters: { style: '<anime>', size: '768*768', n: 1 }, normalized: true });
    expect(doodle!.request).toEqual({ model: EDIT, prompt: 'a house', parameters: { n: 1, seed: 5, is_sketch: true }, normalized: false });
    expect(wan!.request).toEqual({ model: WAN, prompt: 'a house', parameters: { n: 1, size: '1280*960', negative_prompt: 'text' }, normalized: false });

    const sim = p.stack.dashscope;
    const bodyOf = (name: string) => sim.records.submissionsFor(`/sketches/models/${name}.png`)[0]!.body as { model: string; input: Record<string, unknown>; parameters: Record<string, unknown> };
    expect(bodyOf('lite').input).toHaveProperty('sketch_image_url');
    expect(bodyOf('doodle')).toMatchObject({ model: EDIT, input: { function: 'doodle', prompt: 'a house' }, parameters: { n: 1, seed: 5, is_sketch: true } });
    expect(bodyOf('doodle').input).toHaveProperty('base_image_url');
    expect(bodyOf('wan')).toMatchObject({ model: WAN, input: { prompt: 'a house', negative_prompt: 'text' }, parameters: { n: 1, size: '1280*960' } });
    expect((bodyOf('wan').input.images as string[]).length).toBe(1);
    // The 4:3 sketch: padded to 768² for the sketch model, as it is for the other two.
    expect(sim.records.submissionsFor('/sketches/models/lite.png')[0]!.sketchUrl).toBeDefined();
    // Told apart by model: the sketch model's square, doodle at the input's size, wan2.5 at the size asked.
    const size = async (m: typeof lite) => dimensions(p.stack.oss.peek(m!.results[0]!.key!)!.body);
    expect(await size(lite)).toMatchObject({ width: 768, height: 768 });
    expect(await size(doodle)).toMatchObject({ width: 1024, height: 768 });
    expect(await size(wan)).toMatchObject({ width: 1280, height: 960 });
    expect(sim.records.imageCountByModel).toMatchObject({ [`${sim.apiKeyId}/${LITE}`]: 1, [`${sim.apiKeyId}/${EDIT}`]: 1, [`${sim.apiKeyId}/${WAN}`]: 1 });
    expect(sim.records.costCny).toBe(0.4);
  });

  it('an unknown model and a field its model does not take: FAILED before anything is sent, saying why', async () => {
    await p.put('sketches/models/unknown.json', JSON.stringify({ model: 'dall-e-3', prompt: 'x' }));
    await p.put('sketches/models/unknown.png', house);
    await p.put('sketches/models/field.json', JSON.stringify({ model: WAN, prompt: 'x', sketch_weight: 3 }));
    await p.put('sketches/models/field.png', house);
    const unknown = await p.waitForManifest('sketches/models/unknown');
    const field = await p.waitForManifest('sketches/models/field');
    expect(unknown.error).toEqual({
      code: 'InvalidSidecar',
      message: 'sketches/models/unknown.json: model must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")',
    });
    expect(field.status).toBe('FAILED');
    expect(field.error?.message).toMatch(/^sketches\/models\/field\.json: sketch_weight is not a field of wan2\.5-i2i-preview; it takes prompt, model, negative_prompt, n, size/);
    expect(p.submissions('sketches/models/unknown.png') + p.submissions('sketches/models/field.png')).toBe(0);
  });

  it('the model may come from the sketch\'s metadata or a folder\'s _defaults.json', async () => {
    await p.put('sketches/folder/_defaults.json', JSON.stringify({ model: EDIT }));
    await p.put('sketches/folder/meta.png', house, { prompt: 'a house', model: WAN });
    await p.put('sketches/folder/deflt.json', JSON.stringify({ prompt: 'a house' }));
    await p.put('sketches/folder/deflt.png', house);
    const meta = await p.waitForManifest('sketches/folder/meta');
    const deflt = await p.waitForManifest('sketches/folder/deflt');
    expect(meta.request?.model).toBe(WAN);
    expect(deflt.request?.model).toBe(EDIT);
    // sketches/_defaults.json is not there in this bucket; a parent's style would be a warning only.
    expect(deflt.status).toBe('SUCCEEDED');
  });
});

describe('each model has its own slots (DashScope frozen)', () => {
  let p: TestPipeline;
  let sketch: Buffer;
  beforeAll(async () => {
    p = await startTestPipeline({ timeScale: 1e6, env: { MAX_IN_FLIGHT: '2' } });
    sketch = await lineSketch(640);
  });
  afterAll(async () => {
    await p?.close();
  });

  const put = async (name: string, model: string) => {
    await p.put(`sketches/slots/${name}.json`, JSON.stringify({ model, prompt: name }));
    await p.put(`sketches/slots/${name}.png`, sketch);
  };

  it('a backlog on one model never holds another back; each stays within its own bound', async () => {
    const sim = p.stack.dashscope;
    for (let i = 0; i < 6; i++) await put(`lite-${i}`, LITE);
    // The sketch model runs one at a time: two in flight (one waiting at DashScope), four queued.
    await p.waitFor('2 sketch-model tasks in flight', async () => {
      await sim.flush();
      return liveByModel(sim)[LITE] === 2;
    });
    await put('doodle', EDIT);
    await put('wan', WAN);
    await p.waitFor('the other models sent at once, past the backlog', () => p.submissions('sketches/slots/doodle.png') === 1 && p.submissions('sketches/slots/wan.png') === 1);
    for (let i = 0; i < 8; i++) await put(`wan-${i}`, WAN);
    // wan2.5 runs five at a time: six in flight (five running, one waiting), the rest queued.
    const live = await p.waitFor('6 wan2.5 tasks in flight', async () => {
      await sim.flush();
      const l = liveByModel(sim);
      return l[WAN] === 6 ? l : undefined;
    });
    expect(live).toEqual({ [LITE]: 2, [EDIT]: 1, [WAN]: 6 });
    const deps = coreDepsOf(p);
    const status = await pipelineStatus(deps, 'sketches/slots/');
    expect(status.models.map((m) => [m.model, m.inFlight, m.slots, m.queued])).toEqual([
      [LITE, 2, 2, 4],
      [EDIT, 1, 3, 0],
      [WAN, 6, 6, 3],
    ]);
    expect(status.jobs.find((j) => j.jobKey === 'sketches/slots/lite-5')).toMatchObject({ state: 'QUEUED', model: LITE });

    // Now let DashScope work: every task ends when its time comes, and everything finishes.
    const names = [...Array.from({ length: 6 }, (_, i) => `lite-${i}`), 'doodle', 'wan', ...Array.from({ length: 8 }, (_, i) => `wan-${i}`)];
    await p.waitFor(
      'every manifest',
      async () => {
        await sim.flush();
        const running = [...modelsOfTasks(sim).keys()].map((id) => sim.task(id)!).filter((t) => t.status === 'RUNNING');
        const next = Math.min(...running.map((t) => t.scheduledAt! + t.duration));
        if (Number.isFinite(next) && next > sim.now()) sim.advance(next - sim.now() + 1);
        return names.every((n) => p.manifest(`sketches/slots/${n}`));
      },
      60_000,
    );
    expect(names.map((n) => p.manifest(`sketches/slots/${n}`)!.status)).toEqual(Array(names.length).fill('SUCCEEDED'));
    expect(maxLiveByModel(sim)).toEqual({ [LITE]: 2, [EDIT]: 1, [WAN]: 6 });
    for (const n of names) expect(p.submissions(`sketches/slots/${n}.png`), n).toBe(1);
  }, 120_000); // 16 sketches end to end: about 20 s alone, more on a loaded machine
});

describe('the daily CNY budget, at each model\'s price', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline({ env: { MAX_CNY_PER_DAY: '0.5', MAX_QUEUE_HOURS: '0' } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('wan2.5 at CNY 0.20: two go, the third waits saying why; one costing more than a day fails at once', async () => {
    const sketch = await lineSketch(640);
    await p.put('sketches/cny/big.json', JSON.stringify({ model: WAN, prompt: 'x', n: 3 }));
    await p.put('sketches/cny/big.png', sketch);
    const big = await p.waitForManifest('sketches/cny/big');
    expect(big.error?.code).toBe('BudgetExceeded');
    expect(big.error?.message).toContain('costs CNY 0.6 (3 image(s) of wan2.5-i2i-preview), more than MAX_CNY_PER_DAY (0.5) allows in a day');
    for (const n of ['a', 'b', 'c']) {
      await p.put(`sketches/cny/${n}.json`, JSON.stringify({ model: WAN, prompt: n }));
      await p.put(`sketches/cny/${n}.png`, sketch);
    }
    const deps = coreDepsOf(p);
    const waiting = await p.waitFor('two done, one waiting on the budget', async () => {
      const s = await pipelineStatus(deps, 'sketches/cny/');
      const done = s.jobs.filter((j) => j.state === 'SUCCEEDED').length;
      const w = s.jobs.find((j) => j.state === 'QUEUED' && j.waitingFor);
      return done === 2 && w ? { s, w } : undefined;
    });
    expect(waiting.w.waitingFor).toMatch(/^the daily spending budget \(MAX_CNY_PER_DAY=0\.5\) is used up for \d{4}-\d\d-\d\d/);
    expect(waiting.s.budget).toMatchObject({ used: 2, cny: { used: 0.4, max: 0.5 } });
    // A cheaper model still fits what is left today (0.06 ≤ 0.10).
    await p.put('sketches/cny/cheap.json', JSON.stringify({ prompt: 'cheap' }));
    await p.put('sketches/cny/cheap.png', sketch);
    expect((await p.waitForManifest('sketches/cny/cheap')).status).toBe('SUCCEEDED');
    expect(p.stack.dashscope.records.costCny).toBe(0.46);
  });
});

describe('reconciliation, model by model', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    // 4 s tasks, 0.2 s create timeout (a 1.4 s submit lease): the orphans are still live when reconciled.
    p = await startTestPipeline({ timeScale: 0.2, env: { DASHSCOPE_TIMEOUT_SECONDS: '0.2' } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('two creates of two models whose answers were lost: each found among its own model\'s tasks and adopted, none paid twice', async () => {
    const sketch = await lineSketch(640);
    p.stack.dashscope.resetNext('create', 2, 'after');
    for (const [name, model] of [
      ['lite', LITE],
      ['doodle', EDIT],
    ] as const) {
      await p.put(`sketches/orphans/${name}.json`, JSON.stringify({ model, prompt: name }));
    }
    await Promise.all([p.put('sketches/orphans/lite.png', sketch), p.put('sketches/orphans/doodle.png', sketch)]);
    const manifests = await Promise.all(['lite', 'doodle'].map((n) => p.waitForManifest(`sketches/orphans/${n}`, 60_000)));
    const creates = ['lite', 'doodle'].flatMap((n) => p.stack.dashscope.records.submissionsFor(`/sketches/orphans/${n}.png`, { all: true }).map((c) => ({ n, status: c.status, code: c.code, taskId: c.taskId })));
    expect(manifests.map((m) => [m.status, m.request?.model, m.task?.attempts]), JSON.stringify(creates)).toEqual([
      ['SUCCEEDED', LITE, 1],
      ['SUCCEEDED', EDIT, 1],
    ]);
    expect(p.submissions('sketches/orphans/lite.png')).toBe(1);
    expect(p.submissions('sketches/orphans/doodle.png')).toBe(1);
    const adopted = p.logRecords().filter((r) => r.adopted === 'the only orphaned task').map((r) => r.jobKey);
    expect(adopted.sort()).toEqual(['sketches/orphans/doodle', 'sketches/orphans/lite']);
  });
});
