import { describe, expect, it } from 'vitest';
import { fieldsFromMetadata, resolveModel, resolveRequest, type RequestSources } from '../../lib/contract/request.js';
import type { SidecarLayer } from '../../lib/contract/sidecar.js';
import { InputError } from '../../lib/errors.js';
import { MODEL_NAMES } from '../../lib/models/index.js';

const config = { style: '<auto>', n: 1, model: 'wanx-sketch-to-image-lite', models: MODEL_NAMES };
const file = (source: string, fields: Record<string, unknown>): SidecarLayer => ({ source, kind: 'file', fields, problems: [] });
const sidecar = (fields: Record<string, unknown>) => file('sketches/cat.json', fields);
const defaults = (fields: Record<string, unknown>, source = 'sketches/_defaults.json') => file(source, fields);

function message(sources: Omit<RequestSources, 'config'> & { config?: RequestSources['config'] }): string {
  try {
    resolveRequest({ config, ...sources });
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('InvalidSidecar');
    return (err as InputError).message;
  }
  throw new Error('expected an InputError');
}

describe('resolveRequest', () => {
  it('takes each field from the highest source that has it', () => {
    const req = resolveRequest({
      sidecar: sidecar({ n: 2 }),
      metadata: { prompt: encodeURIComponent('一只猫'), style: 'anime' },
      defaults: [defaults({ prompt: 'folder prompt', style: '<watercolor>', sketch_weight: 5 }), defaults({ sketch_weight: 1, n: 4 }, '_defaults.json')],
      config,
    });
    expect(req).toEqual({ model: 'wanx-sketch-to-image-lite', prompt: '一只猫', parameters: { style: '<anime>', size: '768*768', n: 2, sketch_weight: 5 }, warnings: [] });
  });

  it('always sends n, defaulting to the configured 1 (DashScope would bill 4)', () => {
    expect(resolveRequest({ sidecar: sidecar({ prompt: 'x' }), defaults: [], config })!.parameters.n).toBe(1);
    expect(resolveRequest({ sidecar: sidecar({ prompt: 'x', model: 'wan2.5-i2i-preview' }), defaults: [], config })!.parameters).toEqual({ n: 1 });
  });

  it('has no request while no source gives a prompt', () => {
    expect(resolveRequest({ sidecar: sidecar({ style: '<anime>' }), metadata: {}, defaults: [defaults({ n: 2 })], config })).toBeUndefined();
  });

  it('warns when the prompt is longer than the model reads', () => {
    const req = resolveRequest({ sidecar: sidecar({ prompt: 'x'.repeat(100) }), defaults: [], config })!;
    expect(req.warnings).toEqual(['the prompt has 100 characters; the model reads only the first 75']);
    expect(resolveRequest({ sidecar: sidecar({ prompt: 'x'.repeat(100), model: 'wanx2.1-imageedit' }), defaults: [], config })!.warnings).toEqual([]);
  });

  it('reports every problem at once, with the field path', () => {
    const text = message({ sidecar: sidecar({ prompt: 'x', n: 7, style: 'pastel', sketch_color: [[0, 0, 300]], size: '1024*1024' }), defaults: [] });
    expect(text).toContain('sketches/cat.json: n must be an integer 1–4 (got 7); style must be one of');
    expect(text).toContain('(got "pastel")');
    expect(text).toContain('sketch_color[0] must be an [r, g, b] triple');
    expect(text).toContain('size must be "768*768"');
  });

  it('puts the problems of names and of values of one file on one line, and every file\'s', () => {
    const layer = { ...sidecar({ prompt: 'x', n: 9 }), problems: ["unknown field 'styel' (did you mean 'style'?)"] };
    expect(message({ sidecar: layer, defaults: [defaults({ n: 0 })] })).toBe(
      "sketches/cat.json: unknown field 'styel' (did you mean 'style'?); n must be an integer 1–4 (got 9); sketches/_defaults.json: n must be an integer 1–4 (got 0)",
    );
  });

  it('checks the prompt length against the chosen model', () => {
    expect(message({ sidecar: sidecar({ prompt: 'x'.repeat(801) }), defaults: [] })).toBe('sketches/cat.json: prompt must be at most 800 characters for wanx-sketch-to-image-lite (got 801)');
    expect(resolveRequest({ sidecar: sidecar({ prompt: 'x'.repeat(1500), model: 'wan2.5-i2i-preview' }), defaults: [], config })!.prompt).toHaveLength(1500);
    expect(message({ sidecar: sidecar({ prompt: 'x'.repeat(2001), model: 'wan2.5-i2i-preview' }), defaults: [] })).toContain('at most 2000 characters for wan2.5-i2i-preview');
  });
});

describe('resolveRequest: the model (issue 16)', () => {
  it('comes from the sidecar, the metadata, the nearest _defaults.json, or DEFAULT_MODEL', () => {
    const pick = (s: Omit<RequestSources, 'config'>, c = config) => resolveRequest({ ...s, config: c })!.model;
    expect(pick({ sidecar: sidecar({ prompt: 'x', model: 'wanx2.1-imageedit' }), metadata: { model: 'wan2.5-i2i-preview' }, defaults: [] })).toBe('wanx2.1-imageedit');
    expect(pick({ sidecar: sidecar({ prompt: 'x' }), metadata: { model: 'wan2.5-i2i-preview' }, defaults: [defaults({ model: 'wanx2.1-imageedit' })] })).toBe('wan2.5-i2i-preview');
    expect(pick({ sidecar: sidecar({ prompt: 'x' }), defaults: [defaults({ model: 'wanx2.1-imageedit' }), defaults({ model: 'wan2.5-i2i-preview' }, 'x')] })).toBe('wanx2.1-imageedit');
    expect(pick({ sidecar: sidecar({ prompt: 'x' }), defaults: [] }, { ...config, model: 'wan2.5-i2i-preview' })).toBe('wan2.5-i2i-preview');
  });

  it('a field the model does not take is an error naming it and the model', () => {
    expect(message({ sidecar: sidecar({ prompt: 'x', model: 'wan2.5-i2i-preview', style: '<anime>' }), defaults: [] })).toBe(
      'sketches/cat.json: style is not a field of wan2.5-i2i-preview; it takes prompt, model, negative_prompt, n, size, seed, prompt_extend, watermark (style is for wanx-sketch-to-image-lite)',
    );
    expect(message({ sidecar: sidecar({ prompt: 'x', is_sketch: true }), defaults: [] })).toContain(
      'sketches/cat.json: is_sketch is not a field of wanx-sketch-to-image-lite (DEFAULT_MODEL); it takes prompt, model, style, n, sketch_weight, sketch_extraction, sketch_color, size (is_sketch is for wanx2.1-imageedit)',
    );
    // The model chosen by a folder: the sidecar's own field is still the sketch's mistake.
    expect(message({ sidecar: sidecar({ prompt: 'x', sketch_weight: 3 }), defaults: [defaults({ model: 'wanx2.1-imageedit' })] })).toContain(
      'sketches/cat.json: sketch_weight is not a field of wanx2.1-imageedit (the model of sketches/_defaults.json)',
    );
    expect(message({ metadata: { prompt: 'x', style: 'anime', model: 'wanx2.1-imageedit' }, defaults: [] })).toContain('x-oss-meta-style: is not a field of wanx2.1-imageedit (from x-oss-meta-model)');
  });

  it('a folder default the model does not take is left out, with a warning', () => {
    const req = resolveRequest({ sidecar: sidecar({ prompt: 'x', model: 'wan2.5-i2i-preview' }), defaults: [defaults({ style: '<watercolor>', n: 2 })], config })!;
    expect(req.parameters).toEqual({ n: 2 });
    expect(req.warnings).toEqual([
      'sketches/_defaults.json: style is not a field of wan2.5-i2i-preview; it takes prompt, model, negative_prompt, n, size, seed, prompt_extend, watermark (style is for wanx-sketch-to-image-lite); not used',
    ]);
    // …unless that file chose the model itself: then it contradicts itself.
    expect(message({ sidecar: sidecar({ prompt: 'x' }), defaults: [defaults({ model: 'wan2.5-i2i-preview', style: '<watercolor>' })] })).toContain(
      'sketches/_defaults.json: style is not a field of wan2.5-i2i-preview',
    );
  });

  it('an unknown model is an error naming the known ones; a model outside MODELS names those', () => {
    const bad = { ...sidecar({ prompt: 'x' }), problems: ['model must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")'], badModel: true };
    expect(message({ sidecar: bad, defaults: [] })).toBe('sketches/cat.json: model must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")');
    expect(message({ metadata: { prompt: 'x', model: 'midjourney' }, defaults: [] })).toContain('x-oss-meta-model: must be one of wanx-sketch-to-image-lite');
    expect(message({ sidecar: sidecar({ prompt: 'x', model: 'wan2.5-i2i-preview' }), defaults: [], config: { ...config, models: ['wanx-sketch-to-image-lite'] } })).toBe(
      'sketches/cat.json: model wan2.5-i2i-preview is not enabled here; this deployment sends to wanx-sketch-to-image-lite (MODELS)',
    );
  });

  it('resolveModel answers without a prompt (the image checks need the model first)', () => {
    expect(resolveModel({ sidecar: sidecar({ model: 'wanx2.1-imageedit' }), defaults: [], config }).spec.name).toBe('wanx2.1-imageedit');
  });
});

describe('fieldsFromMetadata', () => {
  it('reads a prompt that was not percent-encoded as written', () => {
    expect({ ...fieldsFromMetadata({ prompt: '100% cat' }).fields }).toEqual({ prompt: '100% cat' });
  });

  it('leaves the style to the model: an unknown one is an error of x-oss-meta-style', () => {
    expect(message({ metadata: { prompt: 'x', style: 'pastel' }, defaults: [] })).toMatch(/^x-oss-meta-style: must be one of <auto>/);
  });
});
