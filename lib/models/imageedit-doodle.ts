/**
 * `wanx2.1-imageedit` with `function: "doodle"` (线稿生图; models.md §1): extracts the line art of
 * the input and paints a picture from it, at the input's size, following the prompt (800
 * characters) rather than a preset style. Input JPEG/PNG/BMP/TIFF/WEBP, 512–4096 px a side,
 * ≤ 10 MB, no aspect limit stated. CNY 0.14 an image; 2 creates a second, 2 tasks at a time.
 */
import { bool, intIn, seed } from './fields.js';
import type { ModelParameters, ModelSpec } from './spec.js';

export const IMAGEEDIT = 'wanx2.1-imageedit';

export const imageEditDoodle: ModelSpec = {
  name: IMAGEEDIT,
  goodAt: 'richer pictures from the prompt, at the sketch\'s own size and aspect; is_sketch for clean line art',
  prompt: { maxChars: 800 },
  fields: {
    n: intIn(1, 4),
    seed: seed(),
    // true: the input already is line art, used as it is; false (DashScope's default): its lines are extracted first.
    is_sketch: bool(),
    watermark: bool(),
  },
  parameters(values, defaults) {
    const parameters: ModelParameters = { n: (values.n as number | undefined) ?? defaults.n };
    for (const field of ['seed', 'is_sketch', 'watermark'] as const) if (values[field] !== undefined) parameters[field] = values[field];
    return { parameters, warnings: [] };
  },
  body: ({ prompt, imageUrl, parameters }) => ({ model: IMAGEEDIT, input: { function: 'doodle', prompt, base_image_url: imageUrl }, parameters }),
  // No aspect limit is stated: a long strip keeps its aspect while its short side stays ≥ 512.
  input: { formats: ['png', 'jpg', 'webp', 'bmp', 'tiff'], minSide: 512, maxSide: 4096, maxBytes: 10 * 1024 * 1024, maxRatio: Number.POSITIVE_INFINITY, viewSide: 1536 },
  limits: { createsPerSecond: 2, concurrency: 2 },
  priceCny: 0.14,
};
