/**
 * What every model's create-body validation shares (zod): the message vocabulary (400
 * InvalidParameter naming the field path, e.g. `parameters.n`), integer ranges, URLs, prompt
 * cutting. Unknown fields are ignored, as the service does. The sketch model's styles live here
 * because the renderer draws every model with them.
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

export const required = (what: string) => (issue: { input: unknown }) => (issue.input === undefined ? 'Field required' : `must be ${what}`);
export const intIn = (lo: number, hi: number) =>
  z
    .int({ error: required(`an integer between ${lo} and ${hi}`) })
    .min(lo, { error: `must be an integer between ${lo} and ${hi}` })
    .max(hi, { error: `must be an integer between ${lo} and ${hi}` });

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

export const SEED_MAX = 2147483647;

/** An image URL the service can fetch: http(s), or a temporary upload (`oss://`). */
export const imageUrl = () =>
  z.string({ error: required('a string') }).refine((s) => /^(https?|oss):\/\/\S+$/i.test(s), { error: 'must be an http(s):// or oss:// URL' });

export const requiredPrompt = () => z.string({ error: required('a string') }).refine((s) => s.trim().length > 0, { error: 'must not be empty' });

/** "Characters", not UTF-16 units: a CJK prompt is cut at the same count. */
export function cut(text: string, limit: number): { text: string; cut: boolean } {
  const chars = Array.from(text);
  return { text: chars.slice(0, limit).join(''), cut: chars.length > limit };
}

/** Parses `body` with `schema`, or throws the service's 400 InvalidParameter naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(400, 'InvalidParameter', parsed.error.issues.map((i) => describe(i, body)).join('; '));
  return parsed.data;
}

/** Names of `keys` the client left out of `parameters`. */
export function missing(parameters: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => parameters[k] === undefined);
}
