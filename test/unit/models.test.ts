/**
 * Each ModelSpec (lib/models, issue 16): the fields it takes and their rules, the body it builds
 * (checked against the simulator's own validation of that model's documented request shape), its
 * input limits (no looser than what the service takes), its rate, concurrency and price.
 */
import { describe, expect, it } from 'vitest';
import { resolveRequest } from '../../lib/contract/request.js';
import { specFor } from '../../lib/local/dashscope/models/index.js';
import { costMilliCny, inFlightLimit, MODEL_NAMES, MODEL_SPECS, modelSpec, type ModelSpec } from '../../lib/models/index.js';
import { imageEditDoodle } from '../../lib/models/imageedit-doodle.js';
import { sketchLite } from '../../lib/models/sketch-lite.js';
import { parseSize, wan25I2i } from '../../lib/models/wan25-i2i.js';

const URL = 'https://bucket.oss-cn-beijing.aliyuncs.com/sketches/cat.png?x-oss-signature=abc';
const config = { style: '<auto>', n: 1, model: 'wanx-sketch-to-image-lite', models: MODEL_NAMES };

/** The request a sidecar resolves to for `model`, and the body sent for it. */
function bodyFor(spec: ModelSpec, fields: Record<string, unknown>) {
  const req = resolveRequest({ sidecar: { source: 'k.json', kind: 'file', fields: { prompt: 'a cat', model: spec.name, ...fields }, problems: [] }, defaults: [], config })!;
  return { req, body: spec.body({ prompt: req.prompt, imageUrl: URL, parameters: req.parameters }) };
}

/** Problems a field value has for `spec` ('' when it is fine). */
function problem(spec: ModelSpec, field: string, value: unknown): string {
  const r = spec.fields[field]!.safeParse(value);
  return r.success ? '' : r.error.issues.map((i) => i.message).join('; ');
}

describe('the registry', () => {
  it('serves the three models, default first, and refuses any other name', () => {
    expect(MODEL_NAMES).toEqual(['wanx-sketch-to-image-lite', 'wanx2.1-imageedit', 'wan2.5-i2i-preview']);
    expect(modelSpec('wan2.5-i2i-preview')).toBe(wan25I2i);
    expect(() => modelSpec('dall-e-3')).toThrow(/known: wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview/);
  });

  it('MAX_IN_FLIGHT is the bound of a one-at-a-time model; a model running c at once gets c − 1 more', () => {
    expect(MODEL_SPECS.map((m) => inFlightLimit(m, 2))).toEqual([2, 3, 6]);
    expect(MODEL_SPECS.map((m) => inFlightLimit(m, 1))).toEqual([1, 2, 5]);
    expect(inFlightLimit(sketchLite, 16)).toBe(16);
  });

  it('prices add up in thousandths of a yuan, never in floats', () => {
    expect(MODEL_SPECS.map((m) => m.priceCny)).toEqual([0.06, 0.14, 0.2]);
    expect(costMilliCny(sketchLite, 500)).toBe(30_000);
    expect(costMilliCny(imageEditDoodle, 3)).toBe(420);
    expect(costMilliCny(wan25I2i, 4)).toBe(800);
  });

  it('limits per account as documented (wan2.5: issue 16, unconfirmed), and the same as the simulator serves', () => {
    expect(MODEL_SPECS.map((m) => [m.limits.createsPerSecond, m.limits.concurrency])).toEqual([
      [2, 1],
      [2, 2],
      [5, 5],
    ]);
    for (const m of MODEL_SPECS) {
      const served = specFor(m.name);
      expect(served.limits, m.name).toEqual({ submitsPerSecond: m.limits.createsPerSecond, concurrency: m.limits.concurrency });
      expect(served.priceCny, m.name).toBe(m.priceCny);
    }
  });

  it('takes as it is only what the service takes (the simulator checks the documented input limits)', () => {
    const sharpName = { png: 'png', jpg: 'jpeg', webp: 'webp', bmp: 'bmp', tiff: 'tiff' } as const;
    for (const m of MODEL_SPECS) {
      const served = specFor(m.name).input;
      for (const f of m.input.formats) expect(served.formats.has(sharpName[f]), `${m.name} ${f}`).toBe(true);
      expect(m.input.minSide).toBeGreaterThanOrEqual(served.minSide);
      expect(m.input.maxSide).toBeLessThanOrEqual(served.maxSide);
      expect(m.input.maxBytes).toBeLessThanOrEqual(served.maxBytes);
      expect(m.input.maxRatio).toBeLessThanOrEqual(served.maxRatio);
      // The normalized view fits the model too.
      expect(m.input.viewSide).toBeGreaterThanOrEqual(m.input.minSide);
      expect(m.input.viewSide).toBeLessThanOrEqual(m.input.maxSide);
    }
  });
});

describe('wanx-sketch-to-image-lite', () => {
  it('sends sketch_image_url, the style and 768*768, n always', () => {
    const { req, body } = bodyFor(sketchLite, { style: 'Watercolor', sketch_weight: 3, sketch_color: [[1, 2, 3]] });
    expect(body).toEqual({
      model: 'wanx-sketch-to-image-lite',
      input: { prompt: 'a cat', sketch_image_url: URL },
      parameters: { style: '<watercolor>', size: '768*768', n: 1, sketch_weight: 3, sketch_color: [[1, 2, 3]] },
    });
    expect(req.warnings).toEqual([]);
    // The simulator's validation of the documented shape accepts it.
    expect(specFor(sketchLite.name).parse(body)).toMatchObject({ model: sketchLite.name, sketchUrl: URL, n: 1, style: '<watercolor>', sketchWeight: 3 });
  });

  it('rules: eight styles, n 1–4, weight 0–10, only 768*768, at most 16 colours', () => {
    expect(problem(sketchLite, 'style', 'pastel')).toMatch(/^must be one of <auto>, /);
    expect(problem(sketchLite, 'n', 5)).toBe('must be an integer 1–4 (got 5)');
    expect(problem(sketchLite, 'sketch_weight', 11)).toBe('must be an integer 0–10 (got 11)');
    expect(problem(sketchLite, 'size', '1024*1024')).toBe('must be "768*768", the only size the model makes (got "1024*1024")');
    expect(problem(sketchLite, 'sketch_color', Array(17).fill([0, 0, 0]))).toBe('must list at most 16 colours');
    expect(problem(sketchLite, 'sketch_extraction', 'yes')).toBe('must be true or false (got "yes")');
  });

  it('the default style when none is given, and a warning when extraction ignores the colours', () => {
    const { req } = bodyFor(sketchLite, { sketch_extraction: true, sketch_color: [[0, 0, 0]] });
    expect(req.parameters.style).toBe('<auto>');
    expect(req.warnings).toEqual(['sketch_color is ignored when sketch_extraction is true']);
  });
});

describe('wanx2.1-imageedit (doodle)', () => {
  it('sends function doodle with base_image_url; n, seed, is_sketch, watermark as parameters', () => {
    const { body } = bodyFor(imageEditDoodle, { n: 2, seed: 7, is_sketch: true, watermark: false });
    expect(body).toEqual({
      model: 'wanx2.1-imageedit',
      input: { function: 'doodle', prompt: 'a cat', base_image_url: URL },
      parameters: { n: 2, seed: 7, is_sketch: true, watermark: false },
    });
    expect(specFor(imageEditDoodle.name).parse(body)).toMatchObject({ model: 'wanx2.1-imageedit', sketchUrl: URL, n: 2, sketchExtraction: false });
  });

  it('rules: seed 0–2147483647, is_sketch a boolean; takes no style', () => {
    expect(problem(imageEditDoodle, 'seed', -1)).toBe('must be an integer 0–2147483647 (got -1)');
    expect(problem(imageEditDoodle, 'seed', 2147483647)).toBe('');
    expect(problem(imageEditDoodle, 'is_sketch', 1)).toBe('must be true or false (got 1)');
    expect(imageEditDoodle.fields.style).toBeUndefined();
    expect(imageEditDoodle.prompt).toEqual({ maxChars: 800 });
  });

  it('input: 512–4096 px, BMP and TIFF too, any aspect', () => {
    expect(imageEditDoodle.input).toMatchObject({ formats: ['png', 'jpg', 'webp', 'bmp', 'tiff'], minSide: 512, maxSide: 4096, maxBytes: 10 * 1024 * 1024, maxRatio: Number.POSITIVE_INFINITY });
  });
});

describe('wan2.5-i2i-preview', () => {
  it('sends the sketch as images[0] and negative_prompt in input; size, seed, prompt_extend as parameters', () => {
    const { req, body } = bodyFor(wan25I2i, { negative_prompt: ' blur ', size: '1280*960', seed: 1, prompt_extend: false });
    expect(body).toEqual({
      model: 'wan2.5-i2i-preview',
      input: { prompt: 'a cat', images: [URL], negative_prompt: 'blur' },
      parameters: { n: 1, size: '1280*960', seed: 1, prompt_extend: false },
    });
    // The manifest shows what was asked, negative_prompt included.
    expect(req.parameters).toEqual({ n: 1, size: '1280*960', seed: 1, prompt_extend: false, negative_prompt: 'blur' });
    expect(specFor(wan25I2i.name).parse(body)).toMatchObject({ model: 'wan2.5-i2i-preview', imageUrls: [URL], n: 1, size: { width: 1280, height: 960 } });
  });

  it('no size: DashScope picks ≈1280×1280 in the sketch\'s aspect', () => {
    expect(bodyFor(wan25I2i, {}).body).toEqual({ model: 'wan2.5-i2i-preview', input: { prompt: 'a cat', images: [URL] }, parameters: { n: 1 } });
  });

  it('rules: size within 768*768–1280*1280 pixels and 1:4–4:1; negative_prompt ≤ 500; prompt ≤ 2000', () => {
    expect(parseSize('1280*1280')).toEqual({ width: 1280, height: 1280 });
    expect(parseSize('768*768')).toEqual({ width: 768, height: 768 });
    expect(parseSize('1281*1280')).toBeUndefined();
    expect(parseSize('2048*512')).toEqual({ width: 2048, height: 512 });
    expect(parseSize('2560*600')).toBeUndefined(); // pixels in range, aspect beyond 4:1
    expect(problem(wan25I2i, 'size', '512*512')).toMatch(/^must be "W\*H" with 768\*768 to 1280\*1280 pixels/);
    expect(problem(wan25I2i, 'negative_prompt', 'x'.repeat(501))).toBe('must be at most 500 characters (got 501)');
    expect(wan25I2i.prompt.maxChars).toBe(2000);
  });
});
