/**
 * `wanx-sketch-to-image-lite` (docs/reference/dashscope.md §1, models.md): sketch_image_url +
 * prompt (75 characters, more is cut), style, size 768*768 only, n 1–4 (default 4), sketch_weight
 * 0–10 (default 10), sketch_extraction, sketch_color. Input JPEG/PNG/TIFF/WEBP, 256–2048 px,
 * ≤ 10 MB, ratio < 2. CNY 0.06; 2 creates/s, 1 task at a time.
 */
import { z } from 'zod';
import { cut, imageUrl, intIn, missing, parseOrThrow, required, requiredPrompt, STYLES } from '../validation.js';
import type { ModelSpec, TaskRequest } from './spec.js';

export const SKETCH_LITE = 'wanx-sketch-to-image-lite';
export const PROMPT_LIMIT = 75;
/** The service's default when `n` is omitted (it bills up to 4×). */
export const DEFAULT_N = 4;

const channel = intIn(0, 255);

const schema = z.object({
  model: z.string({ error: required('a string') }),
  input: z.object({ prompt: requiredPrompt(), sketch_image_url: imageUrl() }, { error: required('an object') }),
  parameters: z
    .object(
      {
        style: z.enum(STYLES, { error: `must be one of ${STYLES.join(', ')}` }).optional(),
        size: z.literal('768*768', { error: "must be '768*768' (the only size supported)" }).optional(),
        n: intIn(1, 4).optional(),
        sketch_weight: intIn(0, 10).optional(),
        sketch_extraction: z.boolean({ error: 'must be a boolean' }).optional(),
        sketch_color: z
          .array(z.tuple([channel, channel, channel], { error: 'must be an [r, g, b] triple' }), { error: 'must be an array of [r, g, b] triples' })
          .optional(),
      },
      { error: 'must be an object' },
    )
    .optional(),
});

export function parseCreateBody(body: unknown): TaskRequest {
  const { model, input, parameters = {} } = parseOrThrow(schema, body);
  const prompt = cut(input.prompt, PROMPT_LIMIT);
  return {
    model,
    prompt: prompt.text,
    sketchUrl: input.sketch_image_url,
    imageUrls: [input.sketch_image_url],
    size: { width: 768, height: 768 },
    style: parameters.style ?? '<auto>',
    n: parameters.n ?? DEFAULT_N,
    sketchWeight: parameters.sketch_weight ?? 10,
    sketchExtraction: parameters.sketch_extraction ?? false,
    sketchColor: parameters.sketch_color ?? [],
    promptTruncated: prompt.cut,
    defaulted: missing(parameters, ['style', 'size', 'n', 'sketch_weight', 'sketch_extraction', 'sketch_color']),
  };
}

export const sketchLite: ModelSpec = {
  name: SKETCH_LITE,
  parse: parseCreateBody,
  input: { formats: new Set(['jpeg', 'png', 'tiff', 'webp']), minSide: 256, maxSide: 2048, maxBytes: 10 * 1024 * 1024, maxRatio: 2, ratioExclusive: true },
  outputSize: () => ({ width: 768, height: 768 }),
  limits: { submitsPerSecond: 2, concurrency: 1 },
  priceCny: 0.06,
  // Today's look, unchanged (the examples are rendered with it).
  look: {},
};
