/**
 * OSS image processing (`x-oss-process=image/...`) with sharp: info, auto-orient, resize (lfit,
 * mfit, fill, pad, fixed; w/h/l/s/p; limit; color), rotate, format, quality, interlace, chained
 * with '/'. Each action runs as its own pass over raw pixels, so the chain order is OSS's order.
 * Errors are the OSS IMG errors (400 InvalidArgument / MissingArgument / BadRequest /
 * ImageTooLarge); actions OSS has but the emulator does not answer 501 NotImplemented.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { E, OssError } from './errors.js';
import { decodeBmp, encodeBmp, isBmp } from './bmp.js';

/** OSS processes source images of at most 20 MB. */
export const MAX_SOURCE_BYTES = 20 * 1024 * 1024;
const MAX_SOURCE_PIXELS = 250_000_000;
const MAX_SIDE = 16384;
const MAX_TARGET_PIXELS = 4096 * 4096;

type OutputFormat = 'png' | 'jpg' | 'webp' | 'bmp' | 'gif' | 'tiff';
type ResizeMode = 'lfit' | 'mfit' | 'fill' | 'pad' | 'fixed';

export type ImageAction =
  | { op: 'info' }
  | { op: 'auto-orient'; on: boolean }
  | { op: 'resize'; mode: ResizeMode; w?: number; h?: number; l?: number; s?: number; p?: number; limit: boolean; color: string }
  | { op: 'rotate'; degrees: number }
  | { op: 'format'; format: OutputFormat }
  | { op: 'quality'; relative?: number; absolute?: number }
  | { op: 'interlace'; on: boolean };

/** Actions real OSS offers that the emulator does not (answered 501, so it is obvious). */
const OSS_ONLY = new Set(['crop', 'indexcrop', 'circle', 'rounded-corners', 'blur', 'bright', 'contrast', 'sharpen', 'watermark', 'average-hue', 'resize-crop']);

const invalid = (message: string, value = '') => E.invalidArgument(message, 'x-oss-process', value, '0040-00000001');

function intParam(raw: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw invalid(`Invalid ${name} value '${raw}'.`, raw);
  const n = Number(raw);
  if (n < min || n > max) throw invalid(`The ${name} value ${n} is out of range [${min}, ${max}].`, raw);
  return n;
}

function parseResize(params: string[]): ImageAction {
  const a: Extract<ImageAction, { op: 'resize' }> = { op: 'resize', mode: 'lfit', limit: true, color: 'FFFFFF' };
  for (const param of params) {
    const us = param.indexOf('_');
    const [k, v] = us < 0 ? [param, ''] : [param.slice(0, us), param.slice(us + 1)];
    switch (k) {
      case 'm':
        if (!['lfit', 'mfit', 'fill', 'pad', 'fixed'].includes(v)) throw invalid(`Unsupported resize mode 'm_${v}'.`, param);
        a.mode = v as ResizeMode;
        break;
      case 'w':
      case 'h':
      case 'l':
      case 's':
        a[k] = intParam(v, k, 1, MAX_SIDE);
        break;
      case 'p':
        a.p = intParam(v, 'p', 1, 1000);
        break;
      case 'limit':
        if (v !== '0' && v !== '1') throw invalid(`limit must be 0 or 1 (got '${v}').`, param);
        a.limit = v === '1';
        break;
      case 'color':
        if (!/^[0-9a-fA-F]{6}$/.test(v)) throw invalid(`color must be six hex digits (got '${v}').`, param);
        a.color = v.toUpperCase();
        break;
      default:
        throw invalid(`Unknown resize parameter '${param}'.`, param);
    }
  }
  if (a.w === undefined && a.h === undefined && a.l === undefined && a.s === undefined && a.p === undefined) {
    throw new OssError(400, 'MissingArgument', 'Resize needs at least one of w_, h_, l_, s_ or p_.', {}, '0040-00000002');
  }
  return a;
}

/** Parse an `x-oss-process` value; throws the OSS error for a bad one. */
export function parseProcess(value: string): ImageAction[] {
  const slash = value.indexOf('/');
  const kind = slash < 0 ? value : value.slice(0, slash);
  if (kind === 'style') throw new OssError(404, 'NoSuchStyle', 'The specified style does not exist.');
  if (kind !== 'image') {
    if (['video', 'doc', 'audio', 'hls'].includes(kind)) throw E.notImplemented();
    throw invalid(`x-oss-process must start with 'image/' (got '${value}').`, value);
  }
  const segments = value.slice(slash + 1).split('/').filter((s) => s !== '');
  if (segments.length === 0) throw new OssError(400, 'MissingArgument', 'x-oss-process names no image action.', {}, '0040-00000002');
  const actions: ImageAction[] = [];
  for (const segment of segments) {
    const [name = '', ...params] = segment.split(',');
    switch (name) {
      case 'info':
        actions.push({ op: 'info' });
        break;
      case 'auto-orient':
        if (params.length !== 1 || (params[0] !== '0' && params[0] !== '1')) throw invalid(`auto-orient takes 0 or 1 (got '${segment}').`, segment);
        actions.push({ op: 'auto-orient', on: params[0] === '1' });
        break;
      case 'resize':
        actions.push(parseResize(params));
        break;
      case 'rotate':
        actions.push({ op: 'rotate', degrees: intParam(params[0] ?? '', 'rotate', 0, 360) });
        break;
      case 'format': {
        const f = (params[0] ?? '').toLowerCase();
        const format = f === 'jpeg' ? 'jpg' : f;
        if (!['png', 'jpg', 'webp', 'bmp', 'gif', 'tiff'].includes(format)) {
          if (['heic', 'avif', 'jxl'].includes(format)) throw E.notImplemented();
          throw invalid(`Unsupported target format '${f}'.`, segment);
        }
        actions.push({ op: 'format', format: format as OutputFormat });
        break;
      }
      case 'quality': {
        const [k, v] = (params[0] ?? '').split('_');
        if (k === 'q') actions.push({ op: 'quality', relative: intParam(v ?? '', 'q', 1, 100) });
        else if (k === 'Q') actions.push({ op: 'quality', absolute: intParam(v ?? '', 'Q', 1, 100) });
        else throw invalid(`quality takes q_ or Q_ (got '${segment}').`, segment);
        break;
      }
      case 'interlace':
        actions.push({ op: 'interlace', on: params[0] === '1' });
        break;
      default:
        if (OSS_ONLY.has(name)) throw E.notImplemented();
        throw invalid(`Unknown image action '${name}'.`, segment);
    }
  }
  if (actions.some((a) => a.op === 'info') && actions.length > 1) {
    throw invalid('image/info cannot be combined with other image actions.', value);
  }
  return actions;
}

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

interface Source {
  format: OutputFormat | 'heic';
  width: number;
  height: number;
  orientation?: number;
  frames: number;
  density?: number;
  /** A BMP is decoded whole to learn its size: its pixels, so decode() need not do it again. */
  pixels?: Raw;
}

const unsupported = () => new OssError(400, 'BadRequest', 'The image format is not supported (the object is not an image OSS can process).', {}, '0040-00000010');

async function probe(body: Buffer): Promise<Source> {
  if (isBmp(body)) {
    try {
      const pixels: Raw = { ...decodeBmp(body), channels: 3 };
      return { format: 'bmp', width: pixels.width, height: pixels.height, frames: 1, pixels };
    } catch {
      throw unsupported();
    }
  }
  let m: Metadata;
  try {
    m = await sharp(body).metadata();
  } catch {
    throw unsupported();
  }
  const formats: Record<string, Source['format']> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff', heif: 'heic' };
  const format = formats[m.format ?? ''];
  if (!format || !m.width || !m.height) throw unsupported();
  return { format, width: m.width, height: m.height, orientation: m.orientation, frames: m.pages ?? 1, density: m.density };
}

async function decode(body: Buffer, source: Source): Promise<Raw> {
  if (source.pixels) return source.pixels;
  const { data, info } = await sharp(body).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

const pass = (img: Raw) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });

async function toRaw(s: Sharp): Promise<Raw> {
  const { data, info } = await s.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** EXIF orientation → the turns that make the image upright, each as its own pass. */
async function orient(img: Raw, orientation: number): Promise<Raw> {
  const rotation = { 3: 180, 5: 90, 6: 90, 7: 270, 8: 270 }[orientation];
  let out = rotation ? await toRaw(pass(img).rotate(rotation)) : img;
  if (orientation === 2 || orientation === 5 || orientation === 7) out = await toRaw(pass(out).flop());
  if (orientation === 4) out = await toRaw(pass(out).flip());
  return out;
}

function background(hex: string, channels: number): { r: number; g: number; b: number; alpha?: number } {
  const rgb = { r: parseInt(hex.slice(0, 2), 16), g: parseInt(hex.slice(2, 4), 16), b: parseInt(hex.slice(4, 6), 16) };
  return channels === 2 || channels === 4 ? { ...rgb, alpha: 1 } : rgb;
}

async function resize(img: Raw, a: Extract<ImageAction, { op: 'resize' }>): Promise<Raw> {
  const W = img.width;
  const H = img.height;
  let box: { w: number; h: number };
  let scale: number;
  if (a.p !== undefined && a.w === undefined && a.h === undefined && a.l === undefined && a.s === undefined) {
    scale = a.p / 100;
    box = { w: Math.max(1, Math.round(W * scale)), h: Math.max(1, Math.round(H * scale)) };
    a = { ...a, mode: 'fixed' };
  } else if (a.mode === 'fill' || a.mode === 'pad' || a.mode === 'fixed') {
    // With one side given, these modes make a square of it.
    const w = a.w ?? a.h ?? a.l ?? a.s!;
    const h = a.h ?? a.w ?? a.l ?? a.s!;
    box = { w, h };
    scale = a.mode === 'fill' ? Math.max(w / W, h / H) : a.mode === 'pad' ? Math.min(w / W, h / H) : Math.max(w / W, h / H);
  } else {
    const ratios: number[] = [];
    if (a.w !== undefined) ratios.push(a.w / W);
    if (a.h !== undefined) ratios.push(a.h / H);
    if (a.l !== undefined) ratios.push(a.l / Math.max(W, H));
    if (a.s !== undefined) ratios.push(a.s / Math.min(W, H));
    scale = a.mode === 'lfit' ? Math.min(...ratios) : Math.max(...ratios);
    box = { w: Math.max(1, Math.round(W * scale)), h: Math.max(1, Math.round(H * scale)) };
  }
  if (box.w * box.h > MAX_TARGET_PIXELS) {
    throw E.invalidArgument(`The target image ${box.w}x${box.h} exceeds ${MAX_TARGET_PIXELS} pixels.`, 'x-oss-process', `${box.w}x${box.h}`, '0040-00000007');
  }
  // limit_1 (OSS's default): a resize that would enlarge the image is not done.
  if (a.limit && (scale > 1 || (a.mode === 'fixed' && (box.w > W || box.h > H)))) return img;
  const fit = { lfit: 'fill', mfit: 'fill', fixed: 'fill', fill: 'cover', pad: 'contain' } as const;
  return toRaw(pass(img).resize(box.w, box.h, { fit: fit[a.mode], position: 'centre', background: background(a.color, img.channels) }));
}

const CONTENT_TYPES: Record<OutputFormat, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  bmp: 'image/bmp',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

async function encode(img: Raw, format: OutputFormat, quality: number | undefined, progressive: boolean): Promise<Buffer> {
  if (format === 'bmp') {
    const rgb = await pass(img).flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return encodeBmp({ data: rgb.data, width: rgb.info.width, height: rgb.info.height });
  }
  const s = pass(img);
  switch (format) {
    case 'png':
      return s.png({ progressive }).toBuffer();
    case 'jpg':
      return s.flatten({ background: '#ffffff' }).jpeg({ quality: quality ?? 85, progressive }).toBuffer();
    case 'webp':
      return s.webp({ quality: quality ?? 85 }).toBuffer();
    case 'gif':
      return s.gif().toBuffer();
    case 'tiff':
      return s.tiff().toBuffer();
  }
}

export interface ProcessResult {
  body: Buffer;
  contentType: string;
}

/** Run parsed actions on an object's bytes. */
export async function applyProcess(body: Buffer, actions: ImageAction[]): Promise<ProcessResult> {
  if (body.length > MAX_SOURCE_BYTES) {
    throw new OssError(400, 'ImageTooLarge', `The source image is ${body.length} bytes; OSS image processing takes at most 20 MB.`, {}, '0040-00000008');
  }
  const source = await probe(body);
  if (source.width * source.height * source.frames > MAX_SOURCE_PIXELS) {
    throw new OssError(400, 'BadRequest', 'The source image exceeds 250,000,000 pixels.', {}, '0040-00000012');
  }
  if (actions[0]?.op === 'info') return info(body, source);

  let img = await decode(body, source);
  let format: OutputFormat = source.format === 'heic' ? 'jpg' : source.format;
  let quality: number | undefined;
  let progressive = false;
  let oriented = false;
  for (const a of actions) {
    switch (a.op) {
      case 'auto-orient':
        if (a.on && !oriented && source.orientation && source.orientation > 1) img = await orient(img, source.orientation);
        oriented ||= a.on;
        break;
      case 'resize':
        img = await resize(img, a);
        break;
      case 'rotate':
        if (a.degrees % 360 !== 0) img = await toRaw(pass(img).rotate(a.degrees, { background: background('FFFFFF', img.channels) }));
        break;
      case 'format':
        format = a.format;
        break;
      case 'quality':
        quality = a.absolute ?? a.relative;
        break;
      case 'interlace':
        progressive = a.on;
        break;
      case 'info':
        break;
    }
  }
  return { body: await encode(img, format, quality, progressive), contentType: CONTENT_TYPES[format] };
}

/** `image/info` in OSS's shape: every field an object with a string `value`. */
function info(body: Buffer, source: Source): ProcessResult {
  const fields: Record<string, { value: string }> = {
    FileSize: { value: String(body.length) },
    Format: { value: source.format },
    FrameCount: { value: String(source.frames) },
    ImageHeight: { value: String(source.height) },
    ImageWidth: { value: String(source.width) },
    ResolutionUnit: { value: source.density ? '2' : '1' },
    XResolution: { value: source.density ? `${source.density}/1` : '1/1' },
    YResolution: { value: source.density ? `${source.density}/1` : '1/1' },
  };
  if (source.orientation) fields.Orientation = { value: String(source.orientation) };
  const sorted = Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { body: Buffer.from(JSON.stringify(sorted)), contentType: 'application/json' };
}
