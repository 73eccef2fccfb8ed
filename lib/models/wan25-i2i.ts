/**
 * `wan2.5-i2i-preview` (models.md §2): image editing from up to three images and a prompt of up
 * to 2000 characters (rewritten by a language model unless prompt_extend is false); here the one
 * image is the sketch. Output ≈ 1280×1280 in the sketch's aspect unless `size` says otherwise
 * (768*768–1280*1280 pixels, aspect 1:4–4:1). Input JPEG/PNG/BMP/WEBP, 384–5000 px, ≤ 10 MB,
 * aspect 1:4–4:1. CNY 0.20 an image; 5 creates a second, 5 at a time (both from issue 16 only,
 * UNCONFIRMED).
 */
import { bool, got, intIn, rule, seed, text } from './fields.js';
import type { ModelParameters, ModelSpec } from './spec.js';

export const WAN25_I2I = 'wan2.5-i2i-preview';

const MIN_PIXELS = 768 * 768;
const MAX_PIXELS = 1280 * 1280;

/** "W*H" within the documented pixel and aspect ranges, or undefined. */
export function parseSize(value: string): { width: number; height: number } | undefined {
  const m = /^(\d{2,5})\*(\d{2,5})$/.exec(value);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  const pixels = width * height;
  return pixels >= MIN_PIXELS && pixels <= MAX_PIXELS && Math.max(width, height) / Math.min(width, height) <= 4 ? { width, height } : undefined;
}

export const wan25I2i: ModelSpec = {
  name: WAN25_I2I,
  goodAt: 'the most finished pictures and the highest throughput; long prompts, negative_prompt, sizes up to 1280×1280',
  prompt: { maxChars: 2000 },
  fields: {
    negative_prompt: text(500),
    n: intIn(1, 4),
    size: rule((v) =>
      typeof v !== 'string' || parseSize(v) === undefined
        ? `must be "W*H" with 768*768 to 1280*1280 pixels in an aspect ratio from 1:4 to 4:1, like "1280*1280" (got ${got(v)})`
        : undefined,
    ),
    seed: seed(),
    prompt_extend: bool(),
    watermark: bool(),
  },
  parameters(values, defaults) {
    const parameters: ModelParameters = { n: (values.n as number | undefined) ?? defaults.n };
    for (const field of ['size', 'seed', 'prompt_extend', 'watermark'] as const) if (values[field] !== undefined) parameters[field] = values[field];
    // negative_prompt travels in `input`; kept with the parameters so the manifest shows it.
    if (values.negative_prompt) parameters.negative_prompt = values.negative_prompt;
    return { parameters, warnings: [] };
  },
  body: ({ prompt, imageUrl, parameters }) => {
    const { negative_prompt: negative, ...rest } = parameters;
    return { model: WAN25_I2I, input: { prompt, images: [imageUrl], ...(negative ? { negative_prompt: negative } : {}) }, parameters: rest };
  },
  // lfit to 1536 keeps any aspect up to 4:1 with the short side ≥ 384.
  input: { formats: ['png', 'jpg', 'webp', 'bmp'], minSide: 384, maxSide: 5000, maxBytes: 10 * 1024 * 1024, maxRatio: 4, viewSide: 1536 },
  limits: { createsPerSecond: 5, concurrency: 5 },
  priceCny: 0.2,
};
