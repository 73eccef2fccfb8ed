/**
 * One ModelSpec per DashScope model a sketch can ask for (issue 16; facts and sources in
 * docs/reference/models.md). A spec says everything that differs between models: the sidecar
 * fields it takes and their rules, how its create body is built, what input images it takes as
 * they are (and the normalized view for the rest), its rate and concurrency limits and its price.
 * Adding a model is one file like sketch-lite.ts plus an entry in index.ts, and its tests.
 */
import type * as z from 'zod';
import type { InputLimits } from '../contract/image-check.js';

/** What is sent as `parameters` (and shown in the manifest): always `n`, the rest per model. */
export type ModelParameters = { n: number } & Record<string, unknown>;

/**
 * A sidecar field's rule: parses a raw JSON value into the value sent, or reports why not. Issue
 * messages read after the field name ("n must be an integer 1–4 (got 7)").
 */
export type FieldRule = z.ZodType<unknown>;

export interface ModelDefaults {
  /** DEFAULT_N: every model takes n (DashScope's own default may bill 4 images). */
  n: number;
  /** DEFAULT_STYLE, for models with a style. */
  style: string;
}

export interface ModelSpec {
  /** DashScope's model name: the sidecar's `model` and the create body's `model`. */
  name: string;
  /** What it is good at, one line (README table, `sketchflow status`). */
  goodAt: string;
  prompt: {
    /** Longer is an error (the service would cut it). */
    maxChars: number;
    /** The model reads only this many characters: a longer prompt adds a warning. */
    readChars?: number;
  };
  /** The sidecar fields it takes besides `prompt` and `model`, each with its rule. */
  fields: Readonly<Record<string, FieldRule>>;
  /** The parameters sent, from the fields' values (first source that has each) and the defaults. */
  parameters(values: Readonly<Record<string, unknown>>, defaults: ModelDefaults): { parameters: ModelParameters; warnings: string[] };
  /** The create body for `POST /services/aigc/image2image/image-synthesis`. */
  body(request: { prompt: string; imageUrl: string; parameters: ModelParameters }): Record<string, unknown>;
  input: InputLimits;
  /** Per account (DashScope's): creates a second, tasks processed at once. */
  limits: { createsPerSecond: number; concurrency: number };
  /** CNY per generated image. */
  priceCny: number;
}
