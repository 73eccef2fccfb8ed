/**
 * Sketch bytes for the soak: seeded line drawings in every format the contract accepts (PNG, JPEG,
 * WEBP, BMP, TIFF; square, non-square, tiny, large, EXIF-rotated) and the broken or hostile files
 * it must refuse (text, PDF, GIF, truncated, a PNG header claiming 100000×100000 pixels, > 20 MB).
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { encodeBmp } from '../lib/local/oss/bmp.js';
import type { RenderInput } from '../lib/local/dashscope/index.js';
import type { Rng } from './rng.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'bmp' | 'tiff';

export interface ImageSpec {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation (JPEG only). */
  orientation?: number;
  /** Uncompressed TIFF (big files). */
  raw?: boolean;
  /** Varies the drawing, so two specs with the same size differ in bytes. */
  variant: number;
}

/** Does DashScope take it as it is (SPEC §3)? If not, it is sent as a normalized view (or rejected with FIT=reject). */
export function fitsModel(spec: ImageSpec, bytes: number): boolean {
  return (
    ['png', 'jpeg', 'webp', 'tiff'].includes(spec.format) &&
    (spec.orientation === undefined || spec.orientation === 1) &&
    spec.width === spec.height &&
    spec.width >= 256 &&
    spec.width <= 2048 &&
    bytes <= 10 * 1024 * 1024
  );
}

export function extensionFor(format: ImageFormat, rng: Rng): string {
  switch (format) {
    case 'png':
      return rng.pick(['.png', '.png', '.PNG']);
    case 'jpeg':
      return rng.pick(['.jpg', '.jpeg', '.JPG']);
    case 'webp':
      return '.webp';
    case 'bmp':
      return '.bmp';
    case 'tiff':
      return rng.pick(['.tif', '.tiff']);
  }
}

function drawing(width: number, height: number, variant: number): string {
  const s = Math.min(width, height);
  const v = (k: number) => ((variant * 7919 + k * 104729) % 1000) / 1000; // deterministic 0..1 per variant
  const sw = Math.max(2, s / 60);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    <g stroke="black" stroke-width="${sw}" fill="none" stroke-linecap="round">
      <rect x="${s * (0.1 + 0.2 * v(1))}" y="${s * (0.4 + 0.1 * v(2))}" width="${s * (0.3 + 0.2 * v(3))}" height="${s * (0.3 + 0.1 * v(4))}"/>
      <polyline points="${s * 0.1},${s * 0.45} ${s * (0.3 + 0.2 * v(5))},${s * (0.15 + 0.1 * v(6))} ${s * 0.7},${s * 0.45}"/>
      <circle cx="${s * (0.7 + 0.15 * v(7))}" cy="${s * (0.15 + 0.1 * v(8))}" r="${s * (0.05 + 0.05 * v(9))}"/>
      <line x1="0" y1="${height * (0.85 + 0.1 * v(10))}" x2="${width}" y2="${height * (0.85 + 0.1 * v(11))}"/>
    </g></svg>`;
}

const cache = new Map<string, Promise<Buffer>>();

/** The bytes of a valid sketch (cached per spec: the same spec always gives the same bytes). */
export function renderSketch(spec: ImageSpec): Promise<Buffer> {
  const key = JSON.stringify(spec);
  let hit = cache.get(key);
  if (!hit) {
    hit = render(spec);
    cache.set(key, hit);
  }
  return hit;
}

async function render(spec: ImageSpec): Promise<Buffer> {
  const img = sharp(Buffer.from(drawing(spec.width, spec.height, spec.variant)));
  switch (spec.format) {
    case 'png':
      return img.png().toBuffer();
    case 'jpeg':
      return spec.orientation ? img.jpeg({ quality: 80 }).withMetadata({ orientation: spec.orientation }).toBuffer() : img.jpeg({ quality: 80 }).toBuffer();
    case 'webp':
      return img.webp().toBuffer();
    case 'tiff':
      return spec.raw ? img.tiff({ compression: 'none' }).toBuffer() : img.tiff({ compression: 'lzw' }).toBuffer();
    case 'bmp': {
      const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return encodeBmp({ data, width: info.width, height: info.height });
    }
  }
}

// ------------------------------------------------------------------ broken and hostile files

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    let c = (crc ^ byte) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A tiny, well-formed PNG whose header claims `width`×`height` pixels (a decompression bomb's shape). */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** `bytes` that start like a PNG: refused from the size alone (> 20 MB). */
export function oversizedPng(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x41);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  return b;
}

export const NOT_IMAGES = {
  text: () => Buffer.from('this is not an image at all, just a note\n'),
  pdf: () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n'),
  gif: () => Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;', 'latin1'),
  zip: () => Buffer.from('PK\x03\x04\x14\x00\x00\x00\x00\x00', 'latin1'),
  empty: () => Buffer.alloc(0),
  /** JPEG magic, then garbage: sniffed as JPEG, refused by OSS image/info. */
  corruptJpeg: () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a jpeg body, just bytes'.repeat(8))]),
} as const;

export type NotImage = keyof typeof NOT_IMAGES;

export function truncated(image: Buffer, keep = 0.6): Buffer {
  return image.subarray(0, Math.floor(image.length * keep));
}

/**
 * A cheap stand-in for the simulator's result renderer (which spends a few hundred ms of CPU per
 * image): a valid 768×768 PNG whose bytes are a function of the same inputs — the sketch, style,
 * index and parameters — so different tasks still give different images.
 */
export async function quickResult(input: RenderInput): Promise<Buffer> {
  const { sketch, ...rest } = input;
  const digest = createHash('sha256').update(sketch).update(JSON.stringify(rest)).digest();
  const side = 768;
  const px = Buffer.alloc(side * side * 3, 0xf0);
  for (let i = 0; i < side * 3; i++) px[i] = digest[i % digest.length]!;
  return sharp(px, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}
