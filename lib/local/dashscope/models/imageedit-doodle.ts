/**
 * `wanx2.1-imageedit` (models.md §2): input.function (doodle = 线稿生图, among ten), prompt (800
 * characters, more is cut), base_image_url, mask_image_url (description_edit_with_mask only);
 * parameters n 1–4 (default 1), seed 0–2147483647, watermark, is_sketch (doodle: the input is
 * already line art; default false = the service extracts lines first). Input JPG/PNG/BMP/TIFF/WEBP,
 * 512–4096 px, ≤ 10 MB. CNY 0.14; 2 creates/s, 2 tasks at a time. Output: the input's size
 * (UNCONFIRMED for doodle).
 */
import { z } from 'zod';
import { cut, imageUrl, intIn, missing, parseOrThrow, required, requiredPrompt, SEED_MAX } from '../validation.js';
import type { ModelSpec, TaskRequest } from './spec.js';

export const IMAGEEDIT = 'wanx2.1-imageedit';
const PROMPT_LIMIT = 800;

export const FUNCTIONS = [
  'stylization_all',
  'stylization_local',
  'description_edit',
  'description_edit_with_mask',
  'remove_watermark',
  'expand',
  'super_resolution',
  'colorization',
  'doodle',
  'control_cartoon_feature',
] as const;

const schema = z
  .object({
    model: z.string({ error: required('a string') }),
    input: z.object(
      {
        function: z.enum(FUNCTIONS, { error: `must be one of ${FUNCTIONS.join(', ')}` }),
        prompt: requiredPrompt(),
        base_image_url: imageUrl(),
        mask_image_url: imageUrl().optional(),
      },
      { error: required('an object') },
    ),
    parameters: z
      .object(
        {
          n: intIn(1, 4).optional(),
          seed: intIn(0, SEED_MAX).optional(),
          watermark: z.boolean({ error: 'must be a boolean' }).optional(),
          is_sketch: z.boolean({ error: 'must be a boolean' }).optional(),
        },
        { error: 'must be an object' },
      )
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (b.input.function === 'description_edit_with_mask' && b.input.mask_image_url === undefined) {
      ctx.addIssue({ code: 'invalid_type', expected: 'string', path: ['input', 'mask_image_url'], message: 'Field required', input: undefined });
    }
  });

export function parseImageEdit(body: unknown): TaskRequest {
  const { model, input, parameters = {} } = parseOrThrow(schema, body);
  const prompt = cut(input.prompt, PROMPT_LIMIT);
  const isSketch = parameters.is_sketch ?? false;
  return {
    model,
    prompt: prompt.text,
    sketchUrl: input.base_image_url,
    imageUrls: input.mask_image_url ? [input.base_image_url, input.mask_image_url] : [input.base_image_url],
    style: '<flat illustration>',
    n: parameters.n ?? 1,
    sketchWeight: 10,
    // is_sketch false: the service finds the lines in an ordinary picture first.
    sketchExtraction: !isSketch,
    sketchColor: [],
    promptTruncated: prompt.cut,
    defaulted: missing(parameters, ['n', 'seed', 'watermark', 'is_sketch']),
  };
}

export const imageEditDoodle: ModelSpec = {
  name: IMAGEEDIT,
  parse: parseImageEdit,
  input: { formats: new Set(['jpeg', 'png', 'bmp', 'tiff', 'webp']), minSide: 512, maxSide: 4096, maxBytes: 10 * 1024 * 1024, maxRatio: Infinity },
  outputSize: (inputs) => ({ width: inputs[0]!.width, height: inputs[0]!.height }),
  limits: { submitsPerSecond: 2, concurrency: 2 },
  priceCny: 0.14,
  look: { frame: [0, 150, 136], palette: 'doodle' },
};
