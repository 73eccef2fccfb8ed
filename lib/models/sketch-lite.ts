/**
 * `wanx-sketch-to-image-lite` (dashscope.md §1): today's model and the default. Draws a picture
 * along the sketch's lines in one of eight styles; 768×768 only; reads only the first 75
 * characters of the prompt. Input JPEG/PNG/TIFF/WEBP, 256–2048 px, ≤ 10 MB, square in practice
 * (the output is square and a sketch of another aspect is stretched). CNY 0.06 an image; 2
 * creates a second and one task at a time per account.
 */
import * as z from 'zod';
import { normalizeStyle, STYLES, type Style } from '../contract/styles.js';
import { bool, got, intIn, rule } from './fields.js';
import type { ModelSpec } from './spec.js';

export const SKETCH_LITE = 'wanx-sketch-to-image-lite';

const colour = rule((v) =>
  Array.isArray(v) && v.length === 3 && v.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255)
    ? undefined
    : `must be an [r, g, b] triple of integers 0–255 (got ${got(v)})`,
);

export const sketchLite: ModelSpec = {
  name: SKETCH_LITE,
  goodAt: 'cheapest; follows your lines closely in one of eight styles; 768×768',
  prompt: { maxChars: 800, readChars: 75 },
  fields: {
    style: rule(
      (v) => (typeof v !== 'string' || normalizeStyle(v) === undefined ? `must be one of ${STYLES.join(', ')} (got ${got(v)})` : undefined),
      (v) => normalizeStyle(v as string)!,
    ),
    n: intIn(1, 4),
    sketch_weight: intIn(0, 10),
    sketch_extraction: bool(),
    sketch_color: z
      .array(colour, { error: (issue) => `must be an array of [r, g, b] triples (got ${got(issue.input)})` })
      .max(16, { message: 'must list at most 16 colours' }),
    size: rule(
      (v) => (v !== '768*768' ? `must be "768*768", the only size the model makes (got ${got(v)})` : undefined),
      () => '768*768',
    ),
  },
  parameters(values, defaults) {
    const style: Style = (values.style as Style | undefined) ?? normalizeStyle(defaults.style) ?? '<auto>';
    const parameters = { style, size: '768*768', n: (values.n as number | undefined) ?? defaults.n } as { style: Style; size: string; n: number } & Record<string, unknown>;
    for (const field of ['sketch_weight', 'sketch_extraction', 'sketch_color'] as const) if (values[field] !== undefined) parameters[field] = values[field];
    const warnings = parameters.sketch_extraction && parameters.sketch_color ? ['sketch_color is ignored when sketch_extraction is true'] : [];
    return { parameters, warnings };
  },
  body: ({ prompt, imageUrl, parameters }) => ({ model: SKETCH_LITE, input: { prompt, sketch_image_url: imageUrl }, parameters }),
  input: { formats: ['png', 'jpg', 'webp', 'tiff'], minSide: 256, maxSide: 2048, maxBytes: 10 * 1024 * 1024, maxRatio: 1, viewSide: 768 },
  limits: { createsPerSecond: 2, concurrency: 1 },
  priceCny: 0.06,
};
