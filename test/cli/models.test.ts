/**
 * Issue 16, "Done when": a folder with sketches for all three models, one asking for a model
 * that does not exist and one with a field its model does not take (examples/models/, beside
 * the bundled examples) runs to the right manifests in `sketchflow local --once`; the summary and
 * the gallery show each job's model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, killAll, readManifest, removeTmpDirs, ROOT, run, tmpDir } from './helpers.js';

let dir: string;
let result: Awaited<ReturnType<typeof run>>;

beforeAll(async () => {
  dir = tmpDir();
  fs.cpSync(EXAMPLES, path.join(dir, 'sketches'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'examples/models'), path.join(dir, 'sketches/models'), { recursive: true });
  result = await run(['local', '--once', '--dir', dir], { timeoutMs: 55_000 });
  console.info(`sketchflow local --once on the examples and examples/models: ${(result.ms / 1000).toFixed(1)} s (exit ${result.code})`);
}, 60_000);

afterAll(() => {
  killAll();
  removeTmpDirs();
});

describe('sketchflow local --once with examples/models', () => {
  it('each model\'s sketch succeeds on its model; the unknown model and the foreign field fail, saying why; exit 1', () => {
    expect(result.code).toBe(1);
    for (const [job, model] of [
      ['house-lite', 'wanx-sketch-to-image-lite'],
      ['house-doodle', 'wanx2.1-imageedit'],
      ['house-wan25', 'wan2.5-i2i-preview'],
    ] as const) {
      const m = readManifest(dir, `sketches/models/${job}`);
      expect(m?.status, job).toBe('SUCCEEDED');
      expect(m?.request?.model, job).toBe(model);
    }
    expect(readManifest(dir, 'sketches/models/house-doodle')!.request?.parameters).toEqual({ n: 1, seed: 42, is_sketch: true });
    expect(readManifest(dir, 'sketches/models/house-wan25')!.request?.parameters).toEqual({ n: 1, prompt_extend: false, negative_prompt: 'text, watermark' });
    // The bucket's _defaults.json sets a style: the other models do not take it, and say so.
    expect(readManifest(dir, 'sketches/models/house-wan25')!.warnings.join(' ')).toContain('sketches/_defaults.json: style is not a field of wan2.5-i2i-preview');
    expect(readManifest(dir, 'sketches/models/unknown-model')!.error).toEqual({
      code: 'InvalidSidecar',
      message: 'sketches/models/unknown-model.json: model must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")',
    });
    expect(readManifest(dir, 'sketches/models/wrong-field')!.error?.message).toMatch(/^sketches\/models\/wrong-field\.json: style is not a field of wanx2\.1-imageedit; it takes /);
    // The bundled examples are unaffected.
    for (const job of ['bicycle', 'boat', 'cat', 'house', 'teapot', 'tree']) expect(readManifest(dir, `sketches/${job}`)?.status, job).toBe('SUCCEEDED');
    expect(result.stdout).toMatch(/^11 jobs in \d+\.\ds: 9 succeeded, 2 failed$/m);
  });

  it('the gallery shows each job\'s model', () => {
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    for (const model of ['wanx-sketch-to-image-lite', 'wanx2.1-imageedit', 'wan2.5-i2i-preview']) expect(html).toContain(`<span class="model">${model}</span>`);
  });
});
