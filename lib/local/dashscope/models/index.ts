/** The models the simulator serves, by name. Adding one = one file beside this + an entry here. */
import { imageEditDoodle } from './imageedit-doodle.js';
import { sketchLite } from './sketch-lite.js';
import type { ModelSpec } from './spec.js';
import { wan25I2i } from './wan25-i2i.js';

export type { ModelSpec, TaskRequest, InputLimits } from './spec.js';

export const MODEL_SPECS: readonly ModelSpec[] = [sketchLite, imageEditDoodle, wan25I2i];

const byName = new Map(MODEL_SPECS.map((m) => [m.name, m]));

/**
 * The spec for `name`. A name the simulator has no spec for but was told to accept (`models`
 * option) speaks the sketch model's request shape under its own name.
 */
export function specFor(name: string): ModelSpec {
  return byName.get(name) ?? { ...sketchLite, name };
}

/** The index key the service builds from a task's API and model (list entries, events). */
export function uniqueKeyOf(model: string): string {
  return `apikey:v1:aigc:image2image:image-synthesis:${model}`;
}
