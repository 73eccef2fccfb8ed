/**
 * The three models (issue 16): each one's documented request shape and validation (400
 * InvalidParameter naming the field), its input image limits (checked when the task starts),
 * its own limits per account and model (creates per window, tasks running at once), its price,
 * and results a person can tell apart by model (size, frame colour). Plain fetch, frozen clock.
 */
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body as sketchBody, client, finish, FROZEN, startSketchServer, type SketchServer } from './dashscope-helpers.js';

const EDIT = 'wanx2.1-imageedit';
const I2I = 'wan2.5-i2i-preview';

/** A white `w`×`h` picture with a thick black cross, in `format`. */
async function picture(w: number, h: number, format: 'png' | 'jpeg' | 'tiff' = 'png'): Promise<Buffer> {
  const k = Math.round(Math.min(w, h) * 0.08);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="white"/>` +
    `<path d="M${w * 0.15} ${h * 0.15} L${w * 0.85} ${h * 0.85} M${w * 0.85} ${h * 0.15} L${w * 0.15} ${h * 0.85}" stroke="black" stroke-width="${k}"/></svg>`;
  const img = sharp(Buffer.from(svg));
  return (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg() : img.tiff()).toBuffer();
}

const doodle = (url: string, parameters: Record<string, unknown> = { n: 1 }, input: Record<string, unknown> = {}) => ({
  model: EDIT,
  input: { function: 'doodle', prompt: 'a living room, nordic style', base_image_url: url, ...input },
  parameters,
});
const i2i = (urls: string[], parameters: Record<string, unknown> = { n: 1 }, input: Record<string, unknown> = {}) => ({
  model: I2I,
  input: { prompt: 'put the clock next to the vase', images: urls, ...input },
  parameters,
});

/** The pixel at (x, y) of a PNG, as [r, g, b]. */
async function pixel(png: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [data[o]!, data[o + 1]!, data[o + 2]!];
}

describe('DashScope simulator: models', () => {
  let sim: DashScopeSimulator;
  let files: SketchServer;
  const u = (p: string) => files.url(p);

  beforeAll(async () => {
    files = await startSketchServer();
    files.put('/sq640.png', await picture(640, 640));
    files.put('/tall.png', await picture(512, 1024));
    files.put('/small400.png', await picture(400, 400));
    files.put('/small300.png', await picture(300, 300));
    files.put('/wide5.png', await picture(2000, 400));
    files.put('/pic.tiff', await picture(640, 640, 'tiff'));
    files.put('/sq512.png', await picture(512, 512));
    sim = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 10_000, queriesPerSecond: 10_000 });
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim?.close();
    await files?.close();
  });

  /** A fresh key (= account) per test, so rate windows and slots never carry over. */
  let keyCounter = 0;
  async function freshSim(options: Parameters<typeof startDashScopeSimulator>[0] = {}) {
    keyCounter += 1;
    return startDashScopeSimulator({ timeScale: FROZEN, queriesPerSecond: 10_000, rateWindowMs: 60_000, seed: keyCounter, ...options });
  }

  it('wanx2.1-imageedit doodle: a valid request succeeds; output at the input size, with its own frame', async () => {
    const api = client(sim);
    const created = await api.create(doodle(u('/sq640.png'), { n: 2, seed: 42, is_sketch: true, watermark: false }));
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const done = await finish(sim, api, created.body.output.task_id);
    expect(done.body.output.task_status).toBe('SUCCEEDED');
    expect(done.body.output.results).toHaveLength(2);
    expect(done.body.usage).toEqual({ image_count: 2 });
    const png = Buffer.from(await (await fetch(done.body.output.results[0].url)).arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([640, 640]);
    expect(await pixel(png, 2, 2)).toEqual([0, 150, 136]); // the model's teal frame
    expect(sim.task(created.body.output.task_id)!.request).toMatchObject({ model: EDIT, sketchExtraction: false, n: 2 });
  });

  it('wan2.5-i2i-preview: 1–3 images, default size ≈1280*1280 in the last image\'s aspect, prompt fields in the results', async () => {
    const api = client(sim);
    const created = await api.create(i2i([u('/sq640.png'), u('/tall.png')], { n: 1, seed: 7 }));
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const done = await finish(sim, api, created.body.output.task_id);
    expect(done.body.output.task_status).toBe('SUCCEEDED');
    const result = done.body.output.results[0];
    expect(result).toMatchObject({ url: expect.any(String), orig_prompt: 'put the clock next to the vase', actual_prompt: expect.stringContaining('put the clock') });
    const png = Buffer.from(await (await fetch(result.url)).arrayBuffer());
    const meta = await sharp(png).metadata();
    expect(meta.width! * meta.height!).toBeLessThanOrEqual(1280 * 1280);
    expect(meta.width! * meta.height!).toBeGreaterThan(1200 * 1200);
    expect(meta.width! / meta.height!).toBeCloseTo(0.5, 1);
    expect(meta.width! % 16).toBe(0);
    expect(await pixel(png, 2, 2)).toEqual([200, 40, 120]); // the model's magenta frame

    const sized = await api.create(i2i([u('/sq640.png')], { n: 1, size: '1024*768', prompt_extend: false }));
    const sizedDone = await finish(sim, api, sized.body.output.task_id);
    const entry = sizedDone.body.output.results[0];
    expect(entry).not.toHaveProperty('actual_prompt');
    const meta2 = await sharp(Buffer.from(await (await fetch(entry.url)).arrayBuffer())).metadata();
    expect([meta2.width, meta2.height]).toEqual([1024, 768]);
  });

  it('the three models look different: size and frame by model', async () => {
    const api = client(sim);
    const ids = [
      (await api.create(sketchBody(u('/sq640.png')))).body.output.task_id,
      (await api.create(doodle(u('/sq640.png')))).body.output.task_id,
      (await api.create(i2i([u('/sq640.png')]))).body.output.task_id,
    ];
    const corners: number[][] = [];
    for (const id of ids) {
      const done = await finish(sim, api, id);
      const png = Buffer.from(await (await fetch(done.body.output.results[0].url)).arrayBuffer());
      corners.push(await pixel(png, 2, 2));
    }
    expect(new Set(corners.map((c) => c.join(','))).size).toBe(3);
  });

  it.each([
    ['missing function', 'input.function', doodle('x', { n: 1 }, { function: undefined })],
    ['unknown function', 'input.function', doodle('x', { n: 1 }, { function: 'paint' })],
    ['missing base_image_url', 'input.base_image_url', doodle('x', { n: 1 }, { base_image_url: undefined })],
    ['bad base_image_url', 'input.base_image_url', doodle('ftp://x/a.png')],
    ['empty prompt', 'input.prompt', doodle('http://x/a.png', { n: 1 }, { prompt: ' ' })],
    ['is_sketch not a boolean', 'parameters.is_sketch', doodle('http://x/a.png', { is_sketch: 'yes' })],
    ['n out of range', 'parameters.n', doodle('http://x/a.png', { n: 5 })],
    ['seed out of range', 'parameters.seed', doodle('http://x/a.png', { seed: -1 })],
    ['mask missing for inpainting', 'input.mask_image_url', doodle('http://x/a.png', { n: 1 }, { function: 'description_edit_with_mask' })],
    ['images missing', 'input.images', i2i([], { n: 1 }, { images: undefined })],
    ['no images', 'input.images', i2i([])],
    ['four images', 'input.images', i2i(['http://x/1.png', 'http://x/2.png', 'http://x/3.png', 'http://x/4.png'])],
    ['an image not a URL', 'input.images.0', i2i(['not a url'])],
    ['size too large', 'parameters.size', i2i(['http://x/1.png'], { size: '2000*2000' })],
    ['size ratio beyond 4:1', 'parameters.size', i2i(['http://x/1.png'], { size: '2100*500' })],
    ['size malformed', 'parameters.size', i2i(['http://x/1.png'], { size: '1024x1024' })],
    ['n 0', 'parameters.n', i2i(['http://x/1.png'], { n: 0 })],
    ['prompt_extend not a boolean', 'parameters.prompt_extend', i2i(['http://x/1.png'], { prompt_extend: 'true' })],
    ['seed too large', 'parameters.seed', i2i(['http://x/1.png'], { seed: 2147483648 })],
  ])('validation: %s → 400 InvalidParameter naming %s', async (_name, field, payload) => {
    const res = await client(sim).create(payload);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('InvalidParameter');
    expect(res.body.message).toContain(field);
  });

  it.each([
    ['imageedit: under 512 px', 'InvalidFile.Resolution', () => doodle(u('/small400.png'))],
    ['wan2.5: under 384 px', 'InvalidFile.Resolution', () => i2i([u('/small300.png')])],
    ['wan2.5: ratio beyond 4:1', 'InvalidFile.Resolution', () => i2i([u('/wide5.png')])],
    ['wan2.5: TIFF is not among its formats', 'InvalidParameter', () => i2i([u('/pic.tiff')])],
    ['wan2.5: any bad image of several fails the task', 'InvalidFile.Resolution', () => i2i([u('/sq640.png'), u('/small300.png')])],
  ])('input limits at task start: %s → FAILED %s', async (_name, code, payload) => {
    const api = client(sim);
    const created = await api.create(payload());
    expect(created.status).toBe(200);
    const done = await finish(sim, api, created.body.output.task_id);
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code });
  });

  it('imageedit takes TIFF and a 512 px image the wan2.5 model would also take', async () => {
    const api = client(sim);
    for (const payload of [doodle(u('/pic.tiff')), doodle(u('/sq512.png')), i2i([u('/sq512.png')])]) {
      const done = await finish(sim, api, (await api.create(payload)).body.output.task_id);
      expect(done.body.output.task_status, payload.model).toBe('SUCCEEDED');
    }
  });

  it('concurrency per account and model: 1 sketch, 2 imageedit, 5 wan2.5 running at once; models never share slots', async () => {
    const s = await freshSim({ submitsPerSecond: 1000 });
    try {
      const api = client(s);
      const make = async (payload: unknown, count: number) => {
        const ids: string[] = [];
        for (let i = 0; i < count; i++) ids.push((await api.create(payload)).body.output.task_id);
        return ids;
      };
      const sketch = await make(sketchBody(u('/sq640.png')), 2);
      const edit = await make(doodle(u('/sq640.png')), 3);
      const wan = await make(i2i([u('/sq640.png')]), 6);
      const statuses = (ids: string[]) => ids.map((id) => s.task(id)!.status);
      expect(statuses(sketch)).toEqual(['RUNNING', 'PENDING']);
      expect(statuses(edit)).toEqual(['RUNNING', 'RUNNING', 'PENDING']);
      expect(statuses(wan)).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'PENDING']);
      // Drain everything; the maxima never exceed each model's slots.
      for (const id of [...sketch, ...edit, ...wan]) await finish(s, api, id);
      expect(s.records.maxRunning).toEqual({ [`${s.apiKeyId}/wanx-sketch-to-image-lite`]: 1, [`${s.apiKeyId}/${EDIT}`]: 2, [`${s.apiKeyId}/${I2I}`]: 5 });
      expect(s.records.busy.filter((b) => b.model === EDIT)).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  it('creates per window per account and model: 2 sketch, 2 imageedit, 5 wan2.5; one model\'s window never throttles another', async () => {
    const s = await freshSim();
    try {
      const api = client(s);
      const codes = async (payload: unknown, count: number) => {
        const out: number[] = [];
        for (let i = 0; i < count; i++) out.push((await api.create(payload)).status);
        return out;
      };
      expect(await codes(doodle(u('/sq640.png')), 3)).toEqual([200, 200, 429]);
      expect(await codes(sketchBody(u('/sq640.png')), 3)).toEqual([200, 200, 429]);
      expect(await codes(i2i([u('/sq640.png')]), 6)).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await s.close();
    }
  });

  it('modelLimits overrides a model\'s documented limits', async () => {
    const s = await freshSim({ modelLimits: { [EDIT]: { concurrency: 1, submitsPerSecond: 10 } } });
    try {
      const api = client(s);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await api.create(doodle(u('/sq640.png')))).body.output.task_id);
      expect(ids.map((id) => s.task(id)!.status)).toEqual(['RUNNING', 'PENDING', 'PENDING']);
    } finally {
      await s.close();
    }
  });

  it('bills each model at its price', async () => {
    const s = await freshSim({ submitsPerSecond: 1000 });
    try {
      const api = client(s);
      const ids = [
        (await api.create(sketchBody(u('/sq640.png'), { n: 2 }))).body.output.task_id,
        (await api.create(doodle(u('/sq640.png'), { n: 1 }))).body.output.task_id,
        (await api.create(i2i([u('/sq640.png')], { n: 3 }))).body.output.task_id,
      ];
      for (const id of ids) await finish(s, api, id);
      expect(s.records.costCny).toBe(0.86); // 2 × 0.06 + 1 × 0.14 + 3 × 0.20
      expect(s.records.imageCountByModel[`${s.apiKeyId}/${I2I}`]).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('lists every model\'s tasks with its own unique key; model_name filters', async () => {
    const api = client(sim);
    const all = (await api.list({ page_size: '100' })).body.data as Array<{ model_name: string; user_api_unique_key: string }>;
    expect(new Set(all.map((d) => d.model_name))).toEqual(new Set(['wanx-sketch-to-image-lite', EDIT, I2I]));
    for (const d of all) expect(d.user_api_unique_key.endsWith(`:${d.model_name}`)).toBe(true);
    const only = (await api.list({ model_name: I2I, page_size: '100' })).body.data as Array<{ model_name: string }>;
    expect(only.every((d) => d.model_name === I2I)).toBe(true);
  });
});
