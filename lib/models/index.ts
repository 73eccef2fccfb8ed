/**
 * The models a sketch can ask for, by name. Adding one = one file beside this (a ModelSpec) and
 * an entry in MODEL_SPECS; everything else (sidecar rules, body, input checks, slots, rate,
 * budget, reconciliation) reads the spec.
 */
import { imageEditDoodle } from './imageedit-doodle.js';
import { SKETCH_LITE, sketchLite } from './sketch-lite.js';
import type { ModelSpec } from './spec.js';
import { wan25I2i } from './wan25-i2i.js';

export type { FieldRule, ModelDefaults, ModelParameters, ModelSpec } from './spec.js';

export const MODEL_SPECS: readonly ModelSpec[] = [sketchLite, imageEditDoodle, wan25I2i];

export const MODEL_NAMES: readonly string[] = MODEL_SPECS.map((m) => m.name);

/** The default of DEFAULT_MODEL, and the model of rows written before the `model` field existed. */
export const LEGACY_MODEL = SKETCH_LITE;

const byName = new Map(MODEL_SPECS.map((m) => [m.name, m]));

export const isKnownModel = (name: string): boolean => byName.has(name);

/** The spec of a known model; throws for any other name (callers validate names first). */
export function modelSpec(name: string): ModelSpec {
  const spec = byName.get(name);
  if (!spec) throw new Error(`unknown model ${JSON.stringify(name)}; known: ${MODEL_NAMES.join(', ')}`);
  return spec;
}

/** Every sidecar field some model takes (besides prompt and model), in a stable order. */
export const ALL_FIELDS: readonly string[] = [...new Set(MODEL_SPECS.flatMap((m) => Object.keys(m.fields)))];

/** The models that take `field`. */
export const modelsTaking = (field: string): string[] => MODEL_SPECS.filter((m) => field in m.fields).map((m) => m.name);

/**
 * How many of a model's tasks may be PENDING or RUNNING at once (SPEC §4 invariant 3): the ones it
 * processes at once, plus MAX_IN_FLIGHT − 1 waiting queued at DashScope behind them, so the model
 * never idles between poller passes. MAX_IN_FLIGHT is thus the bound of a model that runs one task
 * at a time (the sketch model: 2 by default, as before).
 */
export function inFlightLimit(spec: Pick<ModelSpec, 'limits'>, maxInFlight: number): number {
  return spec.limits.concurrency + Math.max(0, maxInFlight - 1);
}

/** The price of `images` images in thousandths of a yuan (integers: the budget row never sums floats). */
export function costMilliCny(spec: Pick<ModelSpec, 'priceCny'>, images: number): number {
  return Math.round(spec.priceCny * 1000) * images;
}
