/** Field rules the model specs share (sidecar values are untrusted JSON: every rule checks the type). */
import * as z from 'zod';
import type { FieldRule } from './spec.js';

export const got = (v: unknown) => JSON.stringify(v) ?? String(v);

/** A custom check on any value, transformed into the value sent. */
export function rule<T>(check: (v: unknown) => string | undefined, transform: (v: unknown) => T = (v) => v as T): FieldRule {
  return z
    .unknown()
    .superRefine((v, ctx) => {
      const problem = check(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform(transform);
}

export const intIn = (min: number, max: number) =>
  rule((v) => (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max ? `must be an integer ${min}–${max} (got ${got(v)})` : undefined));

export const bool = () => rule((v) => (typeof v !== 'boolean' ? `must be true or false (got ${got(v)})` : undefined));

/** A trimmed string of at most `max` characters (code points). Empty is allowed (= not given). */
export const text = (max: number) =>
  rule(
    (v) => (typeof v !== 'string' ? `must be a string (got ${got(v)})` : [...v.trim()].length > max ? `must be at most ${max} characters (got ${[...v.trim()].length})` : undefined),
    (v) => (v as string).trim(),
  );

/** DashScope's seed range (models.md). */
export const SEED_MAX = 2_147_483_647;
export const seed = () => intIn(0, SEED_MAX);
