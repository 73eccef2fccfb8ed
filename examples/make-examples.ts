/**
 * Makes the example sketches that `sketchflow local` seeds a new bucket folder with
 * (examples/sketches/). Run once, commit the output:
 *
 *   node bin/run-ts.mjs examples/make-examples.ts
 *
 * Each drawing is a list of strokes in a 100×100 box, drawn the way a hand would: every stroke is
 * a smooth curve through wobbled points, gone over twice with a slightly different line, black on
 * white. The wobble is seeded, so the output is the same on every run.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../lib/local/dashscope/random.js';

type Pt = [number, number];
type Stroke = Pt[];

const OUT = path.join(import.meta.dirname, 'sketches');

// ---------------------------------------------------------------- shapes (100×100 units)

function arc(cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 24): Stroke {
  const pts: Stroke = [];
  for (let i = 0; i <= steps; i++) {
    const a = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    pts.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return pts;
}

const ellipse = (cx: number, cy: number, rx: number, ry: number, start = -80): Stroke => arc(cx, cy, rx, ry, start, start + 372, 32);
const circle = (cx: number, cy: number, r: number): Stroke => ellipse(cx, cy, r, r);

/** A straight line as a few points, so the hand can wobble along it. */
function line(a: Pt, b: Pt, steps = 4): Stroke {
  const pts: Stroke = [];
  for (let i = 0; i <= steps; i++) pts.push([a[0] + ((b[0] - a[0]) * i) / steps, a[1] + ((b[1] - a[1]) * i) / steps]);
  return pts;
}

function poly(...pts: Pt[]): Stroke {
  const out: Stroke = [];
  for (let i = 0; i < pts.length - 1; i++) out.push(...line(pts[i]!, pts[i + 1]!, 3).slice(i === 0 ? 0 : 1));
  return out;
}

/** A wavy line from x0 to x1 at height y. */
function wave(x0: number, x1: number, y: number, amp: number, period: number): Stroke {
  const pts: Stroke = [];
  for (let x = x0; x <= x1 + 0.01; x += period / 8) pts.push([x, y + amp * Math.sin(((x - x0) / period) * 2 * Math.PI)]);
  return pts;
}

/** A bumpy closed outline (tree canopy, cloud): a circle with `bumps` scallops. */
function scallop(cx: number, cy: number, r: number, bumps: number, depth: number): Stroke {
  const pts: Stroke = [];
  const n = bumps * 8;
  for (let i = 0; i <= n + 2; i++) {
    const a = (i / n) * 2 * Math.PI - Math.PI / 2;
    const rr = r + depth * Math.abs(Math.sin((i / n) * bumps * Math.PI));
    pts.push([cx + rr * Math.cos(a), cy + rr * Math.sin(a)]);
  }
  return pts;
}

// ---------------------------------------------------------------- drawings

const DRAWINGS: Record<string, () => Stroke[]> = {
  cat: () => [
    // body, sitting
    [[38, 52], [30, 62], [27, 76], [31, 88], [44, 92], [58, 91], [68, 86], [70, 74], [66, 62], [60, 53]],
    // head
    ellipse(48, 40, 15, 13, 200),
    // ears
    poly([36, 33], [34, 20], [43, 28]),
    poly([53, 28], [62, 20], [61, 33]),
    // eyes, nose, mouth
    arc(42, 39, 2.6, 1.6, 180, 360, 8),
    arc(54, 39, 2.6, 1.6, 180, 360, 8),
    poly([47, 44], [49, 44], [48, 45.5], [47, 44]),
    [[48, 45.5], [48, 47], [45.5, 48.5]],
    [[48, 47], [50.5, 48.5]],
    // whiskers
    line([40, 45], [27, 43], 3),
    line([40, 47], [28, 49], 3),
    line([56, 45], [69, 43], 3),
    line([56, 47], [68, 49], 3),
    // front paws and chest
    [[42, 90], [42, 82], [44, 76]],
    [[54, 90], [54, 82], [52, 76]],
    // tail curling round
    [[68, 84], [78, 86], [86, 80], [88, 70], [84, 62], [80, 64]],
    // windowsill
    line([8, 93], [94, 93], 6),
  ],
  house: () => [
    // walls, roof, chimney
    poly([22, 50], [22, 88], [78, 88], [78, 50]),
    poly([16, 53], [50, 22], [84, 53]),
    poly([62, 37], [62, 22], [70, 22], [70, 44]),
    // smoke
    [[66, 20], [63, 15], [68, 10], [64, 5], [67, 1]],
    [[70, 19], [69, 15], [72, 12]],
    // door with a knob
    poly([43, 88], [43, 66], [57, 66], [57, 88]),
    circle(54, 78, 0.9),
    // windows with crosses
    poly([28, 58], [38, 58], [38, 68], [28, 68], [28, 58]),
    line([33, 58], [33, 68], 2),
    line([28, 63], [38, 63], 2),
    poly([62, 58], [72, 58], [72, 68], [62, 68], [62, 58]),
    line([67, 58], [67, 68], 2),
    line([62, 63], [72, 63], 2),
    // ground and path
    line([4, 88], [96, 88], 8),
    [[43, 88], [40, 93], [36, 98]],
    [[57, 88], [61, 93], [66, 98]],
    // a bush
    scallop(12, 82, 5, 5, 1.6),
  ],
  tree: () => [
    // canopy
    scallop(50, 36, 24, 9, 5),
    scallop(50, 38, 13, 6, 3).slice(10, 40),
    // trunk
    [[44, 86], [45, 72], [46, 60], [45, 54]],
    [[56, 86], [55, 72], [54, 60], [56, 54]],
    // branches into the canopy
    [[46, 60], [38, 52], [33, 46]],
    [[54, 62], [62, 52], [68, 47]],
    [[50, 58], [50, 48]],
    // roots and ground
    [[44, 86], [38, 89], [32, 90]],
    [[56, 86], [62, 89], [69, 90]],
    line([6, 90], [94, 90], 8),
    // grass tufts
    poly([14, 90], [16, 85], [17, 90], [19, 86], [20, 90]),
    poly([78, 90], [80, 86], [81, 90], [83, 85], [84, 90]),
    // a falling leaf
    ellipse(80, 70, 2.2, 1.2, 0),
  ],
  boat: () => [
    // hull
    poly([18, 68], [82, 68], [74, 80], [26, 80], [18, 68]),
    // mast and sails
    line([50, 68], [50, 16], 6),
    poly([52, 20], [74, 64], [52, 64]),
    poly([48, 24], [30, 64], [48, 64]),
    // flag
    poly([50, 16], [58, 18], [50, 21]),
    // water
    wave(4, 96, 84, 1.5, 12),
    wave(10, 90, 91, 1.2, 10),
    // sun and birds
    circle(84, 22, 7),
    [[14, 24], [17, 21], [20, 24], [23, 21], [26, 24]],
    [[24, 32], [26, 30], [28, 32], [30, 30], [32, 32]],
  ],
  teapot: () => [
    // body
    ellipse(50, 62, 26, 20, 190),
    // lid and knob
    arc(50, 44, 16, 5, 180, 360, 16),
    line([34, 44], [66, 44], 4),
    circle(50, 36, 3),
    // spout
    [[26, 60], [18, 56], [12, 46], [8, 40]],
    [[28, 70], [18, 64], [12, 50], [8, 40]],
    // handle
    arc(74, 62, 14, 12, -100, 100, 18),
    arc(74, 62, 9, 7, -80, 80, 12),
    // base
    line([34, 82], [66, 82], 4),
    // a flower on the side
    circle(50, 62, 2),
    ...[0, 72, 144, 216, 288].map((deg) => ellipse(50 + 5 * Math.cos((deg * Math.PI) / 180), 62 + 5 * Math.sin((deg * Math.PI) / 180), 3, 3)),
    // steam
    [[10, 34], [6, 28], [11, 22], [7, 15]],
    [[16, 33], [13, 27], [18, 21]],
  ],
  bicycle: () => {
    const back: Pt = [26, 66];
    const front: Pt = [74, 66];
    const crank: Pt = [46, 66];
    const seat: Pt = [40, 40];
    const head: Pt = [66, 40];
    const spokes = (c: Pt): Stroke[] => [0, 45, 90, 135].map((deg) => {
      const a = (deg * Math.PI) / 180;
      return line([c[0] - 16 * Math.cos(a), c[1] - 16 * Math.sin(a)], [c[0] + 16 * Math.cos(a), c[1] + 16 * Math.sin(a)], 2);
    });
    return [
      circle(...back, 17),
      circle(...front, 17),
      circle(...back, 3),
      circle(...front, 3),
      ...spokes(back),
      ...spokes(front),
      // frame
      poly(back, crank, head, seat, back),
      poly(crank, seat),
      line(head, front, 3),
      // saddle, handlebar, pedals
      poly([34, 36], [46, 36], [44, 39], [36, 39], [34, 36]),
      line(seat, [40, 37], 1),
      [[66, 40], [64, 32], [70, 30], [76, 33]],
      circle(...crank, 4),
      line([42, 72], [50, 60], 2),
      // ground
      line([4, 84], [96, 84], 8),
    ];
  },
};

// ---------------------------------------------------------------- rendering

/** Catmull-Rom through the points, as SVG cubic Béziers. */
function smoothPath(pts: Pt[]): string {
  const f = (n: number) => n.toFixed(1);
  if (pts.length < 3) return `M${pts.map((p) => `${f(p[0])},${f(p[1])}`).join(' L')}`;
  let d = `M${f(pts[0]![0])},${f(pts[0]![1])}`;
  for (let i = 0; i < pts.length - 1; i++) {
    const p0 = pts[i - 1] ?? pts[i]!;
    const p1 = pts[i]!;
    const p2 = pts[i + 1]!;
    const p3 = pts[i + 2] ?? p2;
    const c1: Pt = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2: Pt = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    d += ` C${f(c1[0])},${f(c1[1])} ${f(c2[0])},${f(c2[1])} ${f(p2[0])},${f(p2[1])}`;
  }
  return d;
}

interface Canvas {
  width: number;
  height: number;
}

/** The strokes in a `width`×`height` picture: the 100-unit drawing centred on its shorter side. */
function svgFor(strokes: Stroke[], canvas: Canvas, seed: number): string {
  const random = seededRandom(seed);
  const side = Math.min(canvas.width, canvas.height);
  const scale = side / 100;
  const ox = (canvas.width - side) / 2;
  const oy = (canvas.height - side) / 2;
  const base = Math.max(2, side / 170);
  const paths: string[] = [];
  for (const stroke of strokes) {
    // Two passes, as a hand goes over a line: each point wobbles a little, the second less inked.
    for (const pass of [0, 1]) {
      const wobble = pass === 0 ? 0.45 : 0.8;
      const shift: Pt = [(random() - 0.5) * 0.8, (random() - 0.5) * 0.8];
      const pts = stroke.map(([x, y]): Pt => [
        ox + (x + shift[0] + (random() - 0.5) * wobble) * scale,
        oy + (y + shift[1] + (random() - 0.5) * wobble) * scale,
      ]);
      const width = (base * (pass === 0 ? 1 : 0.55) * (0.85 + random() * 0.3)).toFixed(2);
      const opacity = pass === 0 ? 0.92 : 0.55;
      paths.push(`<path d="${smoothPath(pts)}" stroke-width="${width}" stroke-opacity="${opacity}"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${canvas.width}" height="${canvas.height}">
<rect width="100%" height="100%" fill="white"/>
<g fill="none" stroke="black" stroke-linecap="round" stroke-linejoin="round">
${paths.join('\n')}
</g></svg>`;
}

interface Example {
  name: string;
  drawing: keyof typeof DRAWINGS;
  canvas: Canvas;
  format: 'png' | 'jpg' | 'webp';
  /** Sidecar: JSON fields, or a plain-text prompt (`.txt`). */
  sidecar: Record<string, unknown> | string;
}

/**
 * Different styles, one with n: 2, one `.txt` sidecar (its style comes from `_defaults.json`),
 * mixed formats and sizes, one not square (sent padded to a square: normalization).
 */
const EXAMPLES: Example[] = [
  { name: 'cat', drawing: 'cat', canvas: { width: 768, height: 768 }, format: 'png', sidecar: { prompt: 'a ginger cat sitting on a sunny windowsill', style: '<watercolor>' } },
  { name: 'house', drawing: 'house', canvas: { width: 1024, height: 1024 }, format: 'jpg', sidecar: { prompt: 'a cozy stone cottage with smoke rising from the chimney', style: '<oil painting>', n: 2 } },
  { name: 'tree', drawing: 'tree', canvas: { width: 512, height: 512 }, format: 'png', sidecar: 'a towering oak tree in autumn, leaves falling\n' },
  { name: 'boat', drawing: 'boat', canvas: { width: 1200, height: 800 }, format: 'png', sidecar: { prompt: 'a small sailing boat on a calm lake at sunset', style: 'flat illustration' } },
  { name: 'teapot', drawing: 'teapot', canvas: { width: 640, height: 640 }, format: 'png', sidecar: { prompt: 'a porcelain teapot painted with blue flowers', style: '<chinese painting>', sketch_weight: 8 } },
  { name: 'bicycle', drawing: 'bicycle', canvas: { width: 896, height: 896 }, format: 'webp', sidecar: { prompt: 'a shiny red bicycle leaning in the sun', style: '<3d cartoon>' } },
];

const DEFAULTS = { style: '<watercolor>' };

/**
 * examples/models/ (issue 16): the same 4:3 house for each model, one sketch asking for a model
 * that does not exist and one with a field its model does not take. Not seeded into a new bucket
 * folder (the bundled examples all succeed); copy it into `DIR/sketches/models/` to try the models.
 */
const MODELS_OUT = path.join(import.meta.dirname, 'models');
const MODEL_EXAMPLES: Example[] = [
  { name: 'house-lite', drawing: 'house', canvas: { width: 1024, height: 768 }, format: 'png', sidecar: { model: 'wanx-sketch-to-image-lite', prompt: 'a cozy stone cottage at dusk', style: '<watercolor>' } },
  { name: 'house-doodle', drawing: 'house', canvas: { width: 1024, height: 768 }, format: 'png', sidecar: { model: 'wanx2.1-imageedit', prompt: 'a cozy stone cottage at dusk, warm light in the windows', is_sketch: true, seed: 42 } },
  {
    name: 'house-wan25',
    drawing: 'house',
    canvas: { width: 1024, height: 768 },
    format: 'png',
    sidecar: { model: 'wan2.5-i2i-preview', prompt: 'turn the line drawing in image 1 into a photo of a cozy stone cottage at dusk', negative_prompt: 'text, watermark', prompt_extend: false },
  },
  { name: 'unknown-model', drawing: 'tree', canvas: { width: 768, height: 768 }, format: 'png', sidecar: { model: 'dall-e-3', prompt: 'a towering oak tree' } },
  { name: 'wrong-field', drawing: 'cat', canvas: { width: 768, height: 768 }, format: 'png', sidecar: { model: 'wanx2.1-imageedit', prompt: 'a ginger cat', style: '<anime>' } },
];

async function writeExamples(out: string, examples: Example[], firstSeed: number): Promise<void> {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  let seed = firstSeed;
  for (const ex of examples) {
    const svg = svgFor(DRAWINGS[ex.drawing]!(), ex.canvas, seed++);
    const img = sharp(Buffer.from(svg)).flatten({ background: '#ffffff' });
    const bytes =
      ex.format === 'jpg'
        ? await img.jpeg({ quality: 82, mozjpeg: true }).toBuffer()
        : ex.format === 'webp'
          ? await img.webp({ quality: 80 }).toBuffer()
          : await img.greyscale().png({ palette: true, colours: 16, compressionLevel: 9 }).toBuffer();
    const file = `${ex.name}.${ex.format}`;
    fs.writeFileSync(path.join(out, file), bytes);
    const sidecar = typeof ex.sidecar === 'string' ? `${ex.name}.txt` : `${ex.name}.json`;
    fs.writeFileSync(path.join(out, sidecar), typeof ex.sidecar === 'string' ? ex.sidecar : `${JSON.stringify(ex.sidecar, null, 2)}\n`);
    process.stdout.write(`${path.basename(out)}/${file.padEnd(18)} ${ex.canvas.width}×${ex.canvas.height}  ${(bytes.length / 1024).toFixed(1)} KB   + ${sidecar}\n`);
  }
}

async function main(): Promise<void> {
  await writeExamples(OUT, EXAMPLES, 7);
  fs.writeFileSync(path.join(OUT, '_defaults.json'), `${JSON.stringify(DEFAULTS, null, 2)}\n`);
  process.stdout.write('sketches/_defaults.json\n');
  await writeExamples(MODELS_OUT, MODEL_EXAMPLES, 31);
}

await main();
