/**
 * One ModelSpec per model the simulator serves (docs/reference/models.md): how its create body is
 * validated and normalized, what its input images must be, its output size, limits, price, and
 * how its results look (a frame colour per model, so a person can tell them apart).
 */
import type { Style } from '../validation.js';

export type RGB = [number, number, number];

/** A create body as the task engine uses it, whatever the model: defaults applied, prompt cut. */
export interface TaskRequest {
  model: string;
  prompt: string;
  /** The image results are drawn from (sketch_image_url, base_image_url, or the last of images). */
  sketchUrl: string;
  /** Every input image, fetched and checked when the task starts. */
  imageUrls: string[];
  n: number;
  /** Output size the request fixes; absent = decided from the input images at start. */
  size?: { width: number; height: number };
  /** Renderer knobs (other models map their parameters onto them). */
  style: Style;
  sketchWeight: number;
  sketchExtraction: boolean;
  sketchColor: RGB[];
  promptTruncated: boolean;
  /** Parameters the client left out (an `n` defaulting to 4 is worth noticing). */
  defaulted: string[];
  /** Extra fields of each successful result entry (wan2.5: orig_prompt / actual_prompt). */
  resultExtras?: Record<string, string>;
}

export interface InputLimits {
  /** sharp's format names. */
  formats: ReadonlySet<string>;
  minSide: number;
  maxSide: number;
  maxBytes: number;
  /** Largest long/short side ratio allowed (inclusive); Infinity = none. */
  maxRatio: number;
  /** The ratio must be strictly below maxRatio (the sketch model's "smaller than 2.0"). */
  ratioExclusive?: boolean;
}

export interface ModelSpec {
  name: string;
  /** Validates a create body; throws the service's 400 InvalidParameter naming the field. */
  parse(body: unknown): TaskRequest;
  input: InputLimits;
  /** The output size when the request does not fix it, from the input images' sizes. */
  outputSize(inputs: Array<{ width: number; height: number }>): { width: number; height: number };
  limits: { submitsPerSecond: number; concurrency: number };
  /** CNY per successful image. */
  priceCny: number;
  /** How its results differ: a frame drawn round the picture, and a palette of its own (undefined = the style's). */
  look: { frame?: RGB; palette?: 'doodle' | 'i2i' };
}
