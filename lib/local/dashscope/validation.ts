/**
 * Create-task body validation (zod). Rules from the API reference (dashscope.md §1): prompt
 * required and non-empty (over 75 characters silently cut), sketch_image_url required, parameter
 * ranges checked; unknown fields are ignored as the service does. Any problem is a 400
 * InvalidParameter whose message names the field path, e.g. `parameters.n`.
 */
import { z } from 'zod';
import { ApiError } from './errors.js';

export const STYLES = [
  '<auto>',
  '<3d cartoon>',
  '<anime>',
  '<oil painting>',
  '<watercolor>',
  '<sketch>',
  '<chinese painting>',
  '<flat illustration>',
] as const;
export type Style = (typeof STYLES)[number];

export const PROMPT_LIMIT = 75;
/** The service's default when `n` is omitted (it bills up to 4×). */
export const DEFAULT_N = 4;

const required = (what: string) => (issue: { input: unknown }) => (issue.input === undefined ? 'Field required' : `must be ${what}`);
const intIn = (lo: number, hi: number) =>
  z
    .int({ error: required(`an integer between ${lo} and ${hi}`) })
    .min(lo, { error: `must be an integer between ${lo} and ${hi}` })
    .max(hi, { error: `must be an integer between ${lo} and ${hi}` });

const channel = intIn(0, 255);

const schema = z.object({
  model: z.string({ error: required('a string') }),
  input: z.object(
    {
      prompt: z.string({ error: required('a string') }).refine((s) => s.trim().length > 0, { error: 'must not be empty' }),
      sketch_image_url: z
        .string({ error: required('a string') })
        .refine((s) => /^(https?|oss):\/\/\S+$/i.test(s), { error: 'must be an http(s):// or oss:// URL' }),
    },
    { error: required('an object') },
  ),
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

/** The request as the task engine uses it: defaults applied, prompt cut to the limit. */
export interface SketchRequest {
  model: string;
  prompt: string;
  sketchUrl: string;
  style: Style;
  size: '768*768';
  n: number;
  sketchWeight: number;
  sketchExtraction: boolean;
  sketchColor: Array<[number, number, number]>;
  /** The prompt was longer than the service reads. */
  promptTruncated: boolean;
  /** Parameters the client left out (n defaulting to 4 is worth noticing). */
  defaulted: string[];
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describe(issue: z.core.$ZodIssue, body: unknown): string {
  const path = issue.path.map(String).join('.') || 'body';
  const got = valueAt(body, issue.path);
  if (got === undefined && issue.code === 'invalid_type') return `Field required: ${path}`;
  const shown = JSON.stringify(got);
  const suffix = shown === undefined ? '' : ` (got ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown})`;
  return `Value error, ${path} ${issue.message}${suffix}`;
}

/** Parses a create body, or throws the service's 400 InvalidParameter naming every bad field. */
export function parseCreateBody(body: unknown): SketchRequest {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => describe(i, body)).join('; ');
    throw new ApiError(400, 'InvalidParameter', message);
  }
  const { model, input, parameters = {} } = parsed.data;
  // "Characters", not UTF-16 units: a CJK prompt is cut at 75 characters too.
  const chars = Array.from(input.prompt);
  const defaulted = (['style', 'size', 'n', 'sketch_weight', 'sketch_extraction', 'sketch_color'] as const).filter(
    (k) => parameters[k] === undefined,
  );
  return {
    model,
    prompt: chars.slice(0, PROMPT_LIMIT).join(''),
    sketchUrl: input.sketch_image_url,
    style: parameters.style ?? '<auto>',
    size: '768*768',
    n: parameters.n ?? DEFAULT_N,
    sketchWeight: parameters.sketch_weight ?? 10,
    sketchExtraction: parameters.sketch_extraction ?? false,
    sketchColor: parameters.sketch_color ?? [],
    promptTruncated: chars.length > PROMPT_LIMIT,
    defaulted: [...defaulted],
  };
}
