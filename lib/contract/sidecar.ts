/**
 * Sidecar and `_defaults.json` parsing (SPEC §2): bytes → validated fields, or one InputError that
 * names every problem with its field path, so a user fixes everything in one go.
 */
import * as z from 'zod';
import { InputError } from '../errors.js';
import { normalizeStyle, STYLES, type Style } from './styles.js';

export const SIDECAR_MAX_BYTES = 64 * 1024;
export const PROMPT_MAX_CHARS = 800;
/** DashScope reads only this many characters of the prompt (dashscope.md §1). */
export const PROMPT_MODEL_CHARS = 75;

export interface SidecarFields {
  prompt?: string;
  style?: Style;
  n?: number;
  sketch_weight?: number;
  sketch_extraction?: boolean;
  sketch_color?: Array<[number, number, number]>;
  size?: '768*768';
}

const FIELD_NAMES = ['prompt', 'style', 'n', 'sketch_weight', 'sketch_extraction', 'sketch_color', 'size'] as const;

const got = (v: unknown) => JSON.stringify(v) ?? String(v);

const intIn = (min: number, max: number) =>
  z.unknown().superRefine((v, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      ctx.addIssue({ code: 'custom', message: `must be an integer ${min}–${max} (got ${got(v)})` });
    }
  }) as unknown as z.ZodType<number>;

const colour = z.unknown().superRefine((v, ctx) => {
  const ok = Array.isArray(v) && v.length === 3 && v.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255);
  if (!ok) ctx.addIssue({ code: 'custom', message: `must be an [r, g, b] triple of integers 0–255 (got ${got(v)})` });
}) as unknown as z.ZodType<[number, number, number]>;

export const SidecarSchema = z.strictObject({
  prompt: z
    .unknown()
    .superRefine((v, ctx) => {
      if (typeof v !== 'string') return ctx.addIssue({ code: 'custom', message: `must be a string (got ${got(v)})` });
      const t = v.trim();
      if (t.length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      else if ([...t].length > PROMPT_MAX_CHARS) ctx.addIssue({ code: 'custom', message: `must be at most ${PROMPT_MAX_CHARS} characters (got ${[...t].length})` });
    })
    .transform((v) => (v as string).trim())
    .optional(),
  style: z
    .unknown()
    .superRefine((v, ctx) => {
      if (typeof v !== 'string' || normalizeStyle(v) === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${STYLES.join(', ')} (got ${got(v)})` });
      }
    })
    .transform((v) => normalizeStyle(v as string)!)
    .optional(),
  n: intIn(1, 4).optional(),
  sketch_weight: intIn(0, 10).optional(),
  sketch_extraction: z
    .unknown()
    .superRefine((v, ctx) => {
      if (typeof v !== 'boolean') ctx.addIssue({ code: 'custom', message: `must be true or false (got ${got(v)})` });
    })
    .transform((v) => v as boolean)
    .optional(),
  sketch_color: z
    .array(colour, { error: (issue) => `must be an array of [r, g, b] triples (got ${got(issue.input)})` })
    .max(16, { message: 'must list at most 16 colours' })
    .optional(),
  size: z
    .unknown()
    .superRefine((v, ctx) => {
      if (v !== '768*768') ctx.addIssue({ code: 'custom', message: `must be "768*768", the only size the model makes (got ${got(v)})` });
    })
    .transform(() => '768*768' as const)
    .optional(),
});

function suggest(field: string): string {
  const close = FIELD_NAMES.find((name) => editDistance(name, field.toLowerCase()) <= 2);
  return close ? ` (did you mean '${close}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + cost);
      // transposition: 'styel' is one typo away from 'style'
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) dp[i]![j] = Math.min(dp[i]![j]!, dp[i - 2]![j - 2]! + 1);
    }
  }
  return dp[a.length]![b.length]!;
}

/** All problems of a parsed JSON value against the sidecar rules, as `field: message` lines. */
export function validateSidecarValue(value: unknown): { fields?: SidecarFields; problems: string[] } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [`must be a JSON object like {"prompt": "…"} (got ${Array.isArray(value) ? 'an array' : got(value)})`] };
  }
  const result = SidecarSchema.safeParse(value);
  if (result.success) return { fields: result.data as SidecarFields, problems: [] };
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(`unknown field '${key}'${suggest(key)}; allowed: ${FIELD_NAMES.join(', ')}`);
      continue;
    }
    const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
    problems.push(`${path || '(root)'} ${issue.message}`);
  }
  return { problems };
}

/** Bytes as read from OSS (at most SIDECAR_MAX_BYTES + 1 of them) → text, or an InputError. */
export function decodeSidecarText(key: string, bytes: Buffer, totalSize: number): string {
  if (totalSize > SIDECAR_MAX_BYTES) {
    throw new InputError('InvalidSidecar', `${key}: is ${formatBytes(totalSize)}; a sidecar may be at most 64 KiB`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InputError('InvalidSidecar', `${key}: is not UTF-8 text; save it as UTF-8`, { cause });
  }
  return text.replace(/^\uFEFF/, '');
}

/** A `.json` sidecar or `_defaults.json`: bytes → fields, or an InputError naming every problem. */
export function parseSidecarJson(key: string, bytes: Buffer, totalSize: number): SidecarFields {
  const text = decodeSidecarText(key, bytes, totalSize);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InputError('InvalidSidecar', `${key}: is not valid JSON (${detail})`, { cause });
  }
  const { fields, problems } = validateSidecarValue(value);
  if (!fields) throw new InputError('InvalidSidecar', `${key}: ${problems.join('; ')}`);
  return fields;
}

/** A `.txt` sidecar: the whole file, trimmed, is the prompt. */
export function parseSidecarTxt(key: string, bytes: Buffer, totalSize: number): SidecarFields {
  const prompt = decodeSidecarText(key, bytes, totalSize).trim();
  if (prompt.length === 0) throw new InputError('InvalidSidecar', `${key}: is empty; write the prompt in it`);
  if ([...prompt].length > PROMPT_MAX_CHARS) {
    throw new InputError('InvalidSidecar', `${key}: the prompt must be at most ${PROMPT_MAX_CHARS} characters (got ${[...prompt].length})`);
  }
  return { prompt };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
