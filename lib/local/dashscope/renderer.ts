/**
 * Result images: PNGs made from the fetched sketch, so a person recognises their drawing (768×768
 * for the sketch model; other models at their output size, with a palette and a frame of their
 * own so results can be told apart by model).
 * The strokes are found (dark pixels; or the listed `sketch_color`s; or edges when
 * `sketch_extraction`), inked in the style's colour over the style's paper, with a soft colour wash
 * around them. Each image of a task differs slightly (offset, hue); all of it is a pure function of
 * sketch bytes + style + index + parameters, so results are reproducible.
 */
import sharp from 'sharp';
import { hash32, seededRandom, sha256Hex } from './random.js';
import type { Style } from './validation.js';

export const OUTPUT_SIDE = 768;

type RGB = [number, number, number];

interface Palette {
  paper: RGB; // top of the page
  paper2: RGB; // bottom of the page (a gentle gradient)
  ink: RGB;
  wash: RGB;
  /** How strongly the blurred strokes tint the paper. */
  washStrength: number;
  washRadius: number;
  /** Low-frequency texture amplitude (paper fibre, canvas weave) and per-pixel grain. */
  texture: number;
  grain: number;
}

// Papers stay light and inks dark, whatever the style, so strokes always read as strokes.
const PALETTES: Record<Exclude<Style, '<auto>'>, Palette> = {
  '<3d cartoon>': { paper: [214, 234, 252], paper2: [190, 218, 246], ink: [38, 48, 112], wash: [255, 168, 84], washStrength: 0.8, washRadius: 14, texture: 6, grain: 2 },
  '<anime>': { paper: [253, 236, 243], paper2: [238, 222, 250], ink: [34, 24, 46], wash: [255, 118, 160], washStrength: 0.7, washRadius: 10, texture: 4, grain: 2 },
  '<oil painting>': { paper: [238, 218, 172], paper2: [222, 196, 150], ink: [72, 40, 20], wash: [196, 92, 40], washStrength: 0.75, washRadius: 12, texture: 22, grain: 10 },
  '<watercolor>': { paper: [250, 246, 234], paper2: [244, 238, 222], ink: [28, 58, 118], wash: [84, 152, 222], washStrength: 0.85, washRadius: 18, texture: 14, grain: 4 },
  '<sketch>': { paper: [238, 238, 233], paper2: [230, 230, 224], ink: [54, 54, 60], wash: [150, 150, 156], washStrength: 0.35, washRadius: 6, texture: 8, grain: 12 },
  '<chinese painting>': { paper: [240, 228, 198], paper2: [232, 218, 184], ink: [22, 22, 22], wash: [118, 142, 108], washStrength: 0.55, washRadius: 16, texture: 12, grain: 5 },
  '<flat illustration>': { paper: [252, 240, 206], paper2: [252, 240, 206], ink: [18, 88, 100], wash: [255, 186, 58], washStrength: 0.9, washRadius: 8, texture: 0, grain: 0 },
};
const CONCRETE_STYLES = Object.keys(PALETTES) as Array<Exclude<Style, '<auto>'>>;

/** Palettes of models that have no `style` (the look of a model, not of a style). */
const MODEL_PALETTES: Record<'doodle' | 'i2i', Palette> = {
  doodle: { paper: [236, 250, 246], paper2: [214, 240, 232], ink: [10, 70, 64], wash: [64, 196, 170], washStrength: 0.8, washRadius: 12, texture: 6, grain: 3 },
  i2i: { paper: [252, 238, 244], paper2: [246, 222, 234], ink: [80, 16, 52], wash: [236, 96, 150], washStrength: 0.85, washRadius: 16, texture: 10, grain: 4 },
};

export interface RenderInput {
  sketch: Buffer;
  style: Style;
  /** 0-based image index within the task. */
  index: number;
  sketchWeight: number;
  sketchExtraction: boolean;
  sketchColor: RGB[];
  /** Output size (default 768×768). */
  width?: number;
  height?: number;
  /** The model's look: its palette instead of the style's, and a frame colour. */
  look?: { palette?: keyof typeof MODEL_PALETTES; frame?: RGB };
}

/** `<auto>` lets the model pick: here a stable pick per sketch and image. */
export function concreteStyle(style: Style, sketchHash: string, index: number): Exclude<Style, '<auto>'> {
  if (style !== '<auto>') return style;
  return CONCRETE_STYLES[hash32(sketchHash, 'auto', index) % CONCRETE_STYLES.length]!;
}

export async function renderResult(input: RenderInput): Promise<Buffer> {
  const N = OUTPUT_SIDE;
  const sketchHash = sha256Hex(input.sketch);
  const style = concreteStyle(input.style, sketchHash, input.index);
  const seed = hash32(sketchHash, style, input.index);
  const { data, info } = await sharp(input.sketch)
    .autoOrient()
    .flatten({ background: '#ffffff' })
    // A non-square sketch is stretched, as the service documents.
    .resize(N, N, { fit: 'fill' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const strokes = strokeStrength(data, info.channels, N, input);
  const shifted = shift(strokes, N, (seed % 7) - 3, ((seed >>> 3) % 7) - 3);

  const base = input.look?.palette ? MODEL_PALETTES[input.look.palette] : PALETTES[style];
  const hue = ((seed >>> 6) % 41) - 20; // ±20° per image
  const pal: Palette = { ...base, ink: rotateHue(base.ink, hue), wash: rotateHue(base.wash, hue * 2) };
  // The wash is soft: blur at quarter resolution (16× cheaper), sample back bilinearly.
  const Q = 4;
  const M = N / Q;
  const r = Math.max(1, Math.round(pal.washRadius / Q));
  const wash = upsample(boxBlur(boxBlur(downsample(shifted, N, Q), M, r), M, r), M, Q);
  const texture = valueNoise(N, 24, seed);
  // sketch_weight 0–10: how firmly the output follows the strokes.
  const weight = 0.4 + 0.06 * Math.max(0, Math.min(10, input.sketchWeight));

  // Clamped array: stores round and clamp to 0..255 for free.
  const out = new Uint8ClampedArray(N * N * 3);
  const [p0, p1, p2] = pal.paper;
  const [q0, q1, q2] = pal.paper2;
  const [i0, i1, i2] = pal.ink;
  const [w0, w1, w2] = pal.wash;
  const washGain = pal.washStrength * 3;
  let g = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let y = 0; y < N; y++) {
    const t = y / (N - 1);
    const b0 = p0 + (q0 - p0) * t;
    const b1 = p1 + (q1 - p1) * t;
    const b2 = p2 + (q2 - p2) * t;
    for (let x = 0; x < N; x++) {
      const i = y * N + x;
      // xorshift32 grain, inline: this loop runs 590k times per image.
      g ^= g << 13;
      g ^= g >>> 17;
      g ^= g << 5;
      const tex = (texture[i]! - 0.5) * pal.texture + ((g >>> 0) / 4294967296 - 0.5) * pal.grain;
      const wa = Math.min(1, wash[i]! * washGain);
      const a = shifted[i]! * weight;
      const c0 = b0 + tex;
      const c1 = b1 + tex;
      const c2 = b2 + tex;
      const t0 = c0 + (w0 - c0) * wa;
      const t1 = c1 + (w1 - c1) * wa;
      const t2 = c2 + (w2 - c2) * wa;
      const o = i * 3;
      out[o] = t0 + (i0 - t0) * a;
      out[o + 1] = t1 + (i1 - t1) * a;
      out[o + 2] = t2 + (i2 - t2) * a;
    }
  }
  const square = sharp(Buffer.from(out.buffer), { raw: { width: N, height: N, channels: 3 } });
  const width = input.width ?? N;
  const height = input.height ?? N;
  if (width === N && height === N && !input.look?.frame) return square.png({ compressionLevel: 6 }).toBuffer();
  // Other sizes are the square drawing stretched (as a non-square sketch is); then the model's frame.
  const resized = await square.resize(width, height, { fit: 'fill' }).raw().toBuffer();
  const framed = sharp(resized, { raw: { width, height, channels: 3 } });
  const frame = input.look?.frame;
  if (!frame) return framed.png({ compressionLevel: 6 }).toBuffer();
  const k = Math.max(8, Math.round(Math.min(width, height) * 0.02));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect x="${k / 2}" y="${k / 2}" width="${width - k}" height="${height - k}" fill="none" stroke="rgb(${frame.join(',')})" stroke-width="${k}"/></svg>`;
  return framed.composite([{ input: Buffer.from(svg) }]).png({ compressionLevel: 6 }).toBuffer();
}

/** 0..1 per pixel: how much of a stroke is there. */
function strokeStrength(rgb: Buffer, channels: number, N: number, input: RenderInput): Float32Array {
  const s = new Float32Array(N * N);
  const L = new Float32Array(N * N);
  const c1 = channels >= 3 ? 1 : 0;
  const c2 = channels >= 3 ? 2 : 0;
  for (let i = 0, o = 0; i < N * N; i++, o += channels) {
    L[i] = 0.299 * rgb[o]! + 0.587 * rgb[o + c1]! + 0.114 * rgb[o + c2]!;
  }
  if (input.sketchExtraction) {
    // An ordinary picture: strokes are its edges (Sobel on luminance).
    for (let y = 1; y < N - 1; y++) {
      for (let x = 1; x < N - 1; x++) {
        const i = y * N + x;
        const gx = L[i - N + 1]! + 2 * L[i + 1]! + L[i + N + 1]! - L[i - N - 1]! - 2 * L[i - 1]! - L[i + N - 1]!;
        const gy = L[i + N - 1]! + 2 * L[i + N]! + L[i + N + 1]! - L[i - N - 1]! - 2 * L[i - N]! - L[i - N + 1]!;
        s[i] = clamp01((Math.hypot(gx, gy) - 60) / 200);
      }
    }
  } else if (input.sketchColor.length > 0) {
    // The listed colours are the brush; everything else is background.
    for (let i = 0, o = 0; i < N * N; i++, o += channels) {
      let best = Infinity;
      for (const [r, g, b] of input.sketchColor) {
        const d = Math.hypot(rgb[o]! - r, rgb[o + c1]! - g, rgb[o + c2]! - b);
        if (d < best) best = d;
      }
      s[i] = clamp01(1 - (best - 30) / 60);
    }
  } else {
    for (let i = 0; i < N * N; i++) s[i] = clamp01((190 - L[i]!) / 110);
  }
  return s;
}

function shift(src: Float32Array, N: number, dx: number, dy: number): Float32Array {
  if (dx === 0 && dy === 0) return src;
  const out = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= N) continue;
    for (let x = 0; x < N; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < N) out[y * N + x] = src[sy * N + sx]!;
    }
  }
  return out;
}

/** Block average, N×N → (N/q)×(N/q). */
function downsample(src: Float32Array, N: number, q: number): Float32Array {
  const M = N / q;
  const out = new Float32Array(M * M);
  for (let y = 0; y < N; y++) {
    const row = Math.floor(y / q) * M;
    for (let x = 0; x < N; x++) out[row + Math.floor(x / q)]! += src[y * N + x]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= q * q;
  return out;
}

/** Bilinear, M×M → (M·q)×(M·q). */
function upsample(src: Float32Array, M: number, q: number): Float32Array {
  const N = M * q;
  const out = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    const sy = Math.min(M - 1, Math.max(0, (y + 0.5) / q - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(M - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < N; x++) {
      const sx = Math.min(M - 1, Math.max(0, (x + 0.5) / q - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(M - 1, x0 + 1);
      const fx = sx - x0;
      const top = src[y0 * M + x0]! * (1 - fx) + src[y0 * M + x1]! * fx;
      const bottom = src[y1 * M + x0]! * (1 - fx) + src[y1 * M + x1]! * fx;
      out[y * N + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Separable box blur (running sums: cost independent of the radius). */
function boxBlur(src: Float32Array, N: number, r: number): Float32Array {
  const tmp = new Float32Array(N * N);
  const out = new Float32Array(N * N);
  const w = 2 * r + 1;
  for (let y = 0; y < N; y++) {
    let acc = 0;
    for (let x = -r; x <= r; x++) acc += x >= 0 && x < N ? src[y * N + x]! : 0;
    for (let x = 0; x < N; x++) {
      tmp[y * N + x] = acc / w;
      const add = x + r + 1;
      const sub = x - r;
      if (add < N) acc += src[y * N + add]!;
      if (sub >= 0) acc -= src[y * N + sub]!;
    }
  }
  for (let x = 0; x < N; x++) {
    let acc = 0;
    for (let y = -r; y <= r; y++) acc += y >= 0 && y < N ? tmp[y * N + x]! : 0;
    for (let y = 0; y < N; y++) {
      out[y * N + x] = acc / w;
      const add = y + r + 1;
      const sub = y - r;
      if (add < N) acc += tmp[add * N + x]!;
      if (sub >= 0) acc -= tmp[sub * N + x]!;
    }
  }
  return out;
}

/** Smooth 0..1 noise: random values on a `cell`-pixel grid, bilinearly interpolated. */
function valueNoise(N: number, cell: number, seed: number): Float32Array {
  const g = Math.ceil(N / cell) + 2;
  const rnd = seededRandom(seed);
  const grid = new Float32Array(g * g);
  for (let i = 0; i < grid.length; i++) grid[i] = rnd();
  const out = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    const gy = Math.floor(y / cell);
    const fy = (y % cell) / cell;
    for (let x = 0; x < N; x++) {
      const gx = Math.floor(x / cell);
      const fx = (x % cell) / cell;
      const a = grid[gy * g + gx]!;
      const b = grid[gy * g + gx + 1]!;
      const c = grid[(gy + 1) * g + gx]!;
      const d = grid[(gy + 1) * g + gx + 1]!;
      out[y * N + x] = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
    }
  }
  return out;
}

function rotateHue([r, g, b]: RGB, degrees: number): RGB {
  // Rotation about the grey axis (the usual hue-rotate matrix).
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const m = [
    0.213 + cos * 0.787 - sin * 0.213, 0.715 - cos * 0.715 - sin * 0.715, 0.072 - cos * 0.072 + sin * 0.928,
    0.213 - cos * 0.213 + sin * 0.143, 0.715 + cos * 0.285 + sin * 0.14, 0.072 - cos * 0.072 - sin * 0.283,
    0.213 - cos * 0.213 - sin * 0.787, 0.715 - cos * 0.715 + sin * 0.715, 0.072 + cos * 0.928 + sin * 0.072,
  ] as const;
  return [
    clamp255(m[0] * r + m[1] * g + m[2] * b),
    clamp255(m[3] * r + m[4] * g + m[5] * b),
    clamp255(m[6] * r + m[7] * g + m[8] * b),
  ];
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
