/**
 * The checks before money is spent (SPEC §3): the sketch is a real image in a supported format,
 * sniffed from its bytes, and either fits the chosen model as it is (each model's InputLimits,
 * lib/models) or is sent as a normalized view made by OSS image processing (`x-oss-process`
 * inside the presigned URL), so no pixels pass through the function.
 */
import { InputError } from '../errors.js';
import { formatBytes } from './sidecar.js';

export const SKETCH_MAX_BYTES = 20 * 1024 * 1024;
/** OSS image processing refuses larger sources (width/height ≤ 30,000 px, ≤ 250 megapixels). */
export const PROCESS_MAX_SIDE = 30_000;
export const PROCESS_MAX_PIXELS = 250_000_000;

/** Bytes read from the head and the tail of the object, for sniffing and truncation checks. */
export const SNIFF_HEAD_BYTES = 32;
export const SNIFF_TAIL_BYTES = 16;

export type SniffedFormat = 'png' | 'jpg' | 'webp' | 'bmp' | 'tiff';

export interface ImageInfo {
  width: number;
  height: number;
  format: string;
  /** EXIF orientation 1–8; absent when the image has none. */
  orientation?: number;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_IEND = Buffer.from([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

export function sniffFormat(head: Buffer): SniffedFormat | undefined {
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG_MAGIC)) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpg';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (head.length >= 2 && head.toString('latin1', 0, 2) === 'BM') return 'bmp';
  if (head.length >= 4 && (head.toString('latin1', 0, 4) === 'II*\u0000' || head.toString('latin1', 0, 4) === 'MM\u0000*')) return 'tiff';
  return undefined;
}

function describeBytes(head: Buffer): string {
  const ascii = head.toString('latin1', 0, 8);
  if (ascii.startsWith('%PDF')) return 'a PDF document';
  if (ascii.startsWith('GIF8')) return 'a GIF (not supported)';
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') return 'a HEIC/MP4 file (not supported)';
  if (ascii.startsWith('PK')) return 'a ZIP archive';
  if (head.length === 0) return 'empty';
  if ([...head].every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) return 'text';
  return 'not an image';
}

/**
 * The cheap checks that need only the size and a few bytes. Returns the sniffed format.
 * A truncated upload (an interrupted copy) is caught here, before DashScope bills a garbled image.
 */
export function checkSketchBytes(key: string, size: number, head: Buffer, tail: Buffer): SniffedFormat {
  if (size > SKETCH_MAX_BYTES) {
    throw new InputError('ImageTooLarge', `${key}: is ${formatBytes(size)}; a sketch may be at most 20 MiB — scale it down or save it as PNG/JPEG`);
  }
  const format = sniffFormat(head);
  if (!format) {
    throw new InputError('UnsupportedImage', `${key}: is ${describeBytes(head)}, not an image; upload a PNG, JPEG, WEBP, BMP or TIFF file`);
  }
  const truncated = (() => {
    switch (format) {
      case 'png':
        return !(tail.length >= 8 && tail.subarray(tail.length - 8).equals(PNG_IEND));
      case 'webp':
        return head.length >= 8 && head.readUInt32LE(4) + 8 > size;
      case 'bmp':
        return head.length >= 6 && head.readUInt32LE(2) > size;
      default:
        // JPEG and TIFF may legally carry trailing data after their end; leave them to image/info.
        return false;
    }
  })();
  if (truncated) {
    throw new InputError('UnsupportedImage', `${key}: the ${format.toUpperCase()} file is truncated (an interrupted upload?); upload it again`);
  }
  return format;
}

export type Fit = 'pad' | 'crop' | 'reject';

/** What one model takes as it is, and the view a sketch that does not fit is sent as (SPEC §3). */
export interface InputLimits {
  /** Formats the model takes as they are (sniffed from the bytes). */
  formats: readonly SniffedFormat[];
  minSide: number;
  maxSide: number;
  maxBytes: number;
  /** Largest long/short side ratio taken as it is: 1 = square only. */
  maxRatio: number;
  /** The normalized view's long side (or the square's side, when the aspect cannot be kept). */
  viewSide: number;
}

export interface SketchView {
  /** `x-oss-process` for the presigned URL, or undefined to send the sketch as it is. */
  process?: string;
  normalized: boolean;
  /** Why it was normalized, for the manifest's warnings. */
  reason?: string;
  /** What the view is ("a normalized 768×768 PNG view"), for the manifest's warnings. */
  description?: string;
}

const FORMAT_NAMES: Record<SniffedFormat, string> = { png: 'PNG', jpg: 'JPEG', webp: 'WEBP', bmp: 'BMP', tiff: 'TIFF' };
const MIB = 1024 * 1024;

const ratioOf = (info: ImageInfo) => Math.max(info.width, info.height) / Math.min(info.width, info.height);

function whyNot(size: number, info: ImageInfo, format: SniffedFormat, limits: InputLimits): string | undefined {
  if (!limits.formats.includes(format)) return `${format.toUpperCase()} is not accepted by the model`;
  if (info.orientation !== undefined && info.orientation !== 1) return `EXIF orientation ${info.orientation}`;
  const { width, height } = info;
  if (limits.maxRatio <= 1 && width !== height) return `${width}×${height} is not square`;
  if (ratioOf(info) > limits.maxRatio) return `${width}×${height} is beyond the model's 1:${limits.maxRatio} aspect ratio`;
  if (Math.min(width, height) < limits.minSide || Math.max(width, height) > limits.maxSide) return `${width}×${height} is outside ${limits.minSide}–${limits.maxSide} px`;
  if (size > limits.maxBytes) return `${formatBytes(size)} is over the model's ${limits.maxBytes / MIB} MiB`;
  return undefined;
}

/** The rule FIT=reject holds a sketch to, in words. */
function describeLimits(limits: InputLimits): string {
  const shape = limits.maxRatio <= 1 ? 'a square ' : 'a ';
  const formats = limits.formats.map((f) => FORMAT_NAMES[f]).join('/');
  const ratio = limits.maxRatio > 1 && Number.isFinite(limits.maxRatio) ? ` in an aspect ratio up to 1:${limits.maxRatio}` : '';
  return `${shape}${formats} of ${limits.minSide}–${limits.maxSide} px a side${ratio}, at most ${limits.maxBytes / MIB} MiB, without EXIF rotation`;
}

/**
 * Decides how DashScope sees the sketch: as it is, normalized by OSS, or rejected (FIT=reject).
 * The view keeps the sketch's aspect when the model takes it (the long side scaled to
 * `viewSide`, the short one still within the model's sides); otherwise it is a square, padded
 * with white (FIT=pad) or centre-cropped (FIT=crop).
 */
export function planSketchView(key: string, size: number, info: ImageInfo, format: SniffedFormat, fit: Fit, model: { name: string; input: InputLimits }): SketchView {
  if (info.width > PROCESS_MAX_SIDE || info.height > PROCESS_MAX_SIDE || info.width * info.height > PROCESS_MAX_PIXELS) {
    throw new InputError('UnsupportedImage', `${key}: claims ${info.width}×${info.height} pixels; sketches may be at most 30000 px a side and 250 megapixels`);
  }
  if (info.width < 1 || info.height < 1) {
    throw new InputError('UnsupportedImage', `${key}: has no pixels (${info.width}×${info.height})`);
  }
  const limits = model.input;
  const reason = whyNot(size, info, format, limits);
  if (!reason) return { normalized: false };
  if (fit === 'reject') {
    throw new InputError('ImageRejected', `${key}: ${reason}; with FIT=reject a sketch must be ${describeLimits(limits)} (${model.name})`);
  }
  const side = limits.viewSide;
  const ratio = ratioOf(info);
  // limit_0: OSS never enlarges by default, and tiny sketches must be scaled up.
  if (limits.maxRatio > 1 && ratio <= limits.maxRatio && Math.floor(side / ratio) >= limits.minSide) {
    return { process: `image/auto-orient,1/resize,m_lfit,w_${side},h_${side},limit_0/format,png`, normalized: true, reason, description: `a normalized PNG view, ${side} px on its long side` };
  }
  const resize = fit === 'pad' ? `resize,m_pad,w_${side},h_${side},limit_0,color_FFFFFF` : `resize,m_fill,w_${side},h_${side},limit_0`;
  return { process: `image/auto-orient,1/${resize}/format,png`, normalized: true, reason, description: `a normalized ${side}×${side} PNG view` };
}
