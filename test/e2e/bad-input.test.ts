/**
 * SPEC §2–§3: every bad input ends with a manifest whose error says what to fix, and nothing is
 * sent to DashScope (no money spent on it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hugeFakePng, lineSketch, truncate } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;

beforeAll(async () => {
  p = await startTestPipeline({ env: { PROMPT_GRACE_SECONDS: '0.5' } });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

async function failureOf(name: string, files: Record<string, Buffer | string>) {
  for (const [suffix, body] of Object.entries(files)) await p.put(`sketches/bad/${name}${suffix}`, body);
  const m = await p.waitForManifest(`sketches/bad/${name}`);
  expect(m.status).toBe('FAILED');
  expect(m.results).toEqual([]);
  expect(m.task).toBeUndefined();
  const sketchKey = Object.keys(files).find((s) => !s.endsWith('.json') && !s.endsWith('.txt'));
  expect(p.submissions(`sketches/bad/${name}${sketchKey}`)).toBe(0);
  return m.error!;
}

describe('bad sidecars', () => {
  it('an unknown field is named, with a suggestion', async () => {
    const e = await failureOf('unknown', { '.json': JSON.stringify({ prompt: 'x', styel: 'anime' }), '.png': sketch });
    expect(e).toEqual({ code: 'InvalidSidecar', message: "sketches/bad/unknown.json: unknown field 'styel' (did you mean 'style'?); allowed: model, prompt, style, n, sketch_weight, sketch_extraction, sketch_color, size, seed, is_sketch, watermark, negative_prompt, prompt_extend" });
  });

  it('n: 7 and style pastel are both reported', async () => {
    const e = await failureOf('ranges', { '.json': JSON.stringify({ prompt: 'x', n: 7, style: 'pastel' }), '.png': sketch });
    expect(e.code).toBe('InvalidSidecar');
    expect(e.message).toContain('n must be an integer 1–4 (got 7)');
    expect(e.message).toContain('style must be one of <auto>, <3d cartoon>');
    expect(e.message).toContain('(got "pastel")');
  });

  it('a 2 MB sidecar is refused without being read whole', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) });
    const e = await failureOf('huge', { '.json': big, '.png': sketch });
    expect(e).toEqual({ code: 'InvalidSidecar', message: 'sketches/bad/huge.json: is 2.0 MiB; a sidecar may be at most 64 KiB' });
    const reads = p.stack.oss.records.filter((r) => r.key === 'sketches/bad/huge.json' && r.action === 'oss:GetObject');
    expect(reads.length).toBeGreaterThan(0);
  });

  it('not JSON, and not UTF-8', async () => {
    expect((await failureOf('notjson', { '.json': '{"prompt": "x",', '.png': sketch })).message).toMatch(/^sketches\/bad\/notjson\.json: is not valid JSON/);
    expect((await failureOf('latin1', { '.json': Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), '.png': sketch })).message).toBe(
      'sketches/bad/latin1.json: is not UTF-8 text; save it as UTF-8',
    );
  });
});

describe('missing prompt', () => {
  it('after the grace period the job ends MissingPrompt, saying where a prompt can come from', async () => {
    await p.put('sketches/bad/noprompt.png', sketch);
    const m = await p.waitForManifest('sketches/bad/noprompt');
    expect(m.error?.code).toBe('MissingPrompt');
    expect(m.error?.message).toMatch(/add noprompt\.json or noprompt\.txt next to it \(that starts it again\), or upload the sketch again \(the same file is fine\) with x-oss-meta-prompt set or after putting a prompt in a _defaults\.json/);
    expect(p.submissions('sketches/bad/noprompt.png')).toBe(0);
  });

  it('names the sidecar after the whole stem, dots and all', async () => {
    await p.put('sketches/bad/plan.v2.png', sketch);
    const m = await p.waitForManifest('sketches/bad/plan.v2');
    expect(m.error?.message).toMatch(/add plan\.v2\.json or plan\.v2\.txt next to it/);
  });
});

describe('bad images', () => {
  it('text with a .png name', async () => {
    const e = await failureOf('text', { '.json': JSON.stringify({ prompt: 'x' }), '.png': 'this is not an image at all' });
    expect(e).toEqual({ code: 'UnsupportedImage', message: 'sketches/bad/text.png: is text, not an image; upload a PNG, JPEG, WEBP, BMP or TIFF file' });
  });

  it('a 30 MB image is refused from its size alone', async () => {
    const e = await failureOf('big', { '.json': JSON.stringify({ prompt: 'x' }), '.png': hugeFakePng() });
    expect(e.code).toBe('ImageTooLarge');
    expect(e.message).toContain('is 30.0 MiB; a sketch may be at most 20 MiB');
    const reads = p.stack.oss.records.filter((r) => r.key === 'sketches/bad/big.png' && r.action === 'oss:GetObject');
    expect(reads).toEqual([]);
  });

  it('a truncated PNG', async () => {
    const e = await failureOf('cut', { '.json': JSON.stringify({ prompt: 'x' }), '.png': truncate(sketch) });
    expect(e).toEqual({ code: 'UnsupportedImage', message: 'sketches/bad/cut.png: the PNG file is truncated (an interrupted upload?); upload it again' });
  });

  it('FIT=reject refuses a non-square sketch with the rule', async () => {
    const q = await startTestPipeline({ env: { FIT: 'reject' } });
    try {
      await q.put('sketches/r.json', JSON.stringify({ prompt: 'x' }));
      await q.put('sketches/r.png', await lineSketch(200, 150));
      const m = await q.waitForManifest('sketches/r');
      expect(m.error?.code).toBe('ImageRejected');
      expect(m.error?.message).toContain('200×150 is not square; with FIT=reject');
    } finally {
      await q.close();
    }
  });
});

describe('a bad input does not stop the others', () => {
  it('a good sketch beside the bad ones still succeeds', async () => {
    await p.put('sketches/bad/good.json', JSON.stringify({ prompt: 'fine' }));
    await p.put('sketches/bad/good.png', sketch);
    expect((await p.waitForManifest('sketches/bad/good')).status).toBe('SUCCEEDED');
  });
});
