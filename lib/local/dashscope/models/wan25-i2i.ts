/**
 * `wan2.5-i2i-preview` (models.md §3): input.prompt (2000 characters, more is cut), images (1–3
 * URLs), negative_prompt (500, cut); parameters size "W*H" (total pixels 768*768–1280*1280, ratio
 * 1:4–4:1; default ≈1280*1280 in the last image's aspect), n 1–4 (default 4), seed, prompt_extend
 * (default true), watermark. Input JPEG/PNG/BMP/WEBP, 384–5000 px, ≤ 10 MB, ratio 1:4–4:1.
 * CNY 0.20; 5 creates/s, 5 tasks at a time. Results carry orig_prompt / actual_prompt.
 */
import { z } from 'zod';
import { cut, imageUrl, intIn, missing, parseOrThrow, required, requiredPrompt, SEED_MAX } from '../validation.js';
import type { ModelSpec, TaskRequest } from './spec.js';

export const WAN25_I2I = 'wan2.5-i2i-preview';
const MIN_PIXELS = 768 * 768;
const MAX_PIXELS = 1280 * 1280;

/** "W*H" within the documented pixel and aspect ranges, or undefined. */
export function parseSize(text: string): { width: number; height: number } | undefined {
  const m = /^(\d{2,5})\*(\d{2,5})$/.exec(text);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  const pixels = width * height;
  const ratio = Math.max(width, height) / Math.min(width, height);
  return pixels >= MIN_PIXELS && pixels <= MAX_PIXELS && ratio <= 4 ? { width, height } : undefined;
}

const schema = z.object({
  model: z.string({ error: required('a string') }),
  input: z.object(
    {
      prompt: requiredPrompt(),
      images: z.array(imageUrl(), { error: required('an array of 1 to 3 image URLs') }).min(1, { error: 'must hold 1 to 3 image URLs' }).max(3, { error: 'must hold 1 to 3 image URLs' }),
      negative_prompt: z.string({ error: 'must be a string' }).optional(),
    },
    { error: required('an object') },
  ),
  parameters: z
    .object(
      {
        size: z
          .string({ error: 'must be a string like "1280*1280"' })
          .refine((s) => parseSize(s) !== undefined, { error: 'must be "W*H" with 768*768 to 1280*1280 pixels and an aspect ratio from 1:4 to 4:1' })
          .optional(),
        n: intIn(1, 4).optional(),
        seed: intIn(0, SEED_MAX).optional(),
        prompt_extend: z.boolean({ error: 'must be a boolean' }).optional(),
        watermark: z.boolean({ error: 'must be a boolean' }).optional(),
      },
      { error: 'must be an object' },
    )
    .optional(),
});

export function parseWan25(body: unknown): TaskRequest {
  const { model, input, parameters = {} } = parseOrThrow(schema, body);
  const prompt = cut(input.prompt, 2000);
  const extend = parameters.prompt_extend ?? true;
  return {
    model,
    prompt: prompt.text,
    // The output follows the last image's aspect; results are drawn from it.
    sketchUrl: input.images.at(-1)!,
    imageUrls: input.images,
    size: parameters.size === undefined ? undefined : parseSize(parameters.size),
    style: '<oil painting>',
    n: parameters.n ?? 4,
    sketchWeight: 8,
    sketchExtraction: false,
    sketchColor: [],
    promptTruncated: prompt.cut,
    defaulted: missing(parameters, ['size', 'n', 'seed', 'prompt_extend', 'watermark']),
    // The docs' result entries carry both; the rewrite itself is the service's (a stand-in here).
    resultExtras: extend ? { orig_prompt: prompt.text, actual_prompt: `${prompt.text}. Rich detail, soft natural light.` } : undefined,
  };
}

/** ≈1280*1280 pixels in the aspect of `last`, sides multiples of 16 (UNCONFIRMED rounding). */
export function defaultSize(last: { width: number; height: number }): { width: number; height: number } {
  const aspect = last.width / last.height;
  const width = Math.round(Math.sqrt(MAX_PIXELS * aspect) / 16) * 16;
  const height = Math.round(Math.sqrt(MAX_PIXELS / aspect) / 16) * 16;
  // Rounding must not leave the documented range.
  return width * height > MAX_PIXELS ? { width: width - 16, height } : { width, height };
}

export const wan25I2i: ModelSpec = {
  name: WAN25_I2I,
  parse: parseWan25,
  input: { formats: new Set(['jpeg', 'png', 'bmp', 'webp']), minSide: 384, maxSide: 5000, maxBytes: 10 * 1024 * 1024, maxRatio: 4 },
  outputSize: (inputs) => defaultSize(inputs.at(-1)!),
  limits: { submitsPerSecond: 5, concurrency: 5 },
  priceCny: 0.2,
  look: { frame: [200, 40, 120], palette: 'i2i' },
};
