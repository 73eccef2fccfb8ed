/**
 * The checks before money is spent (SPEC §3): the sketch is a real image in a supported format,
 * sniffed from its bytes, and either fits DashScope as it is or is sent as a normalized view made
 * by OSS image processing (`x-oss-process` inside the presigned URL), so no pixels pass through
 * the function.
 */
import { InputError } from '../errors.js';
import { formatBytes } from './sidecar.js';

export const SKETCH_MAX_BYTES = 20 * 1024 * 1024;
/** What DashScope takes as it is (dashscope.md §1). */
export const MODEL_MAX_BYTES = 10 * 1024 * 1024;
export const MODEL_MIN_SIDE = 256;
export const MODEL_MAX_SIDE = 2048;
/** OSS image processing refuses larger sources (width/height ≤ 30,000 px, ≤ 250 megapixels). */
export const PROCESS_MAX_SIDE = 30_000;
export const PROCESS_MAX_PIXELS = 250_000_000;
export const NORMALIZED_SIDE = 768;

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

export interface SketchView {
  /** `x-oss-process` for the presigned URL, or undefined to send the sketch as it is. */
  process?: string;
  normalized: boolean;
  /** Why it was normalized, for the manifest's warnings. */
  reason?: string;
}

function whyNot(size: number, info: ImageInfo, format: SniffedFormat): string | undefined {
  if (!['png', 'jpg', 'webp', 'tiff'].includes(format)) return `${format.toUpperCase()} is not accepted by the model`;
  if (info.orientation !== undefined && info.orientation !== 1) return `EXIF orientation ${info.orientation}`;
  if (info.width !== info.height) return `${info.width}×${info.height} is not square`;
  if (info.width < MODEL_MIN_SIDE || info.width > MODEL_MAX_SIDE) return `${info.width}×${info.height} is outside ${MODEL_MIN_SIDE}–${MODEL_MAX_SIDE} px`;
  if (size > MODEL_MAX_BYTES) return `${formatBytes(size)} is over the model's 10 MiB`;
  return undefined;
}

/** Decides how DashScope sees the sketch: as it is, normalized by OSS, or rejected (FIT=reject). */
export function planSketchView(key: string, size: number, info: ImageInfo, format: SniffedFormat, fit: Fit): SketchView {
  if (info.width > PROCESS_MAX_SIDE || info.height > PROCESS_MAX_SIDE || info.width * info.height > PROCESS_MAX_PIXELS) {
    throw new InputError('UnsupportedImage', `${key}: claims ${info.width}×${info.height} pixels; sketches may be at most 30000 px a side and 250 megapixels`);
  }
  if (info.width < 1 || info.height < 1) {
    throw new InputError('UnsupportedImage', `${key}: has no pixels (${info.width}×${info.height})`);
  }
  const reason = whyNot(size, info, format);
  if (!reason) return { normalized: false };
  if (fit === 'reject') {
    throw new InputError(
      'ImageRejected',
      `${key}: ${reason}; with FIT=reject a sketch must be a square PNG/JPEG/WEBP/TIFF of ${MODEL_MIN_SIDE}–${MODEL_MAX_SIDE} px, at most 10 MiB, without EXIF rotation`,
    );
  }
  const side = NORMALIZED_SIDE;
  // limit_0: OSS never enlarges by default, and tiny sketches must be scaled up.
  const resize = fit === 'pad' ? `resize,m_pad,w_${side},h_${side},limit_0,color_FFFFFF` : `resize,m_fill,w_${side},h_${side},limit_0`;
  return { process: `image/auto-orient,1/${resize}/format,png`, normalized: true, reason };
}
