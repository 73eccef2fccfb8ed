/**
 * Tiny sketches whose bytes say which upload (or which task's result) they are: a 1-bit PNG with a
 * tEXt chunk holding the tag, or a JPEG skeleton (SOI, a comment with the tag, SOF0, EOI). The core
 * only sniffs the head and tail bytes; OSS `image/info` (our fake) reads the IHDR or the SOF0.
 */
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const idatCache = new Map<string, Buffer>();

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function idat(width: number, height: number): Buffer {
  const key = `${width}x${height}`;
  let c = idatCache.get(key);
  if (!c) {
    const row = 1 + Math.ceil(width / 8);
    idatCache.set(key, (c = chunk('IDAT', deflateSync(Buffer.alloc(row * height)))));
  }
  return c;
}

export function taggedPng(tag: string, width = 512, height = 512): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('tEXt', Buffer.from(`explorer\u0000${tag}`, 'latin1')), idat(width, height), chunk('IEND', Buffer.alloc(0))]);
}

/** The tag of a taggedPng, or undefined for other bytes. */
export function pngTag(bytes: Buffer): string | undefined {
  const at = bytes.indexOf('tEXtexplorer\u0000', 0, 'latin1');
  if (at < 0) return undefined;
  const length = bytes.readUInt32BE(at - 4);
  return bytes.toString('latin1', at + 13, at + 4 + length);
}

export function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(SIGNATURE)) return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** A JPEG's markers only: enough for the core's sniffing and our image/info, no pixels. */
export function taggedJpeg(tag: string, width = 512, height = 512): Buffer {
  const text = Buffer.from(tag, 'latin1');
  const com = Buffer.alloc(4);
  com.writeUInt16BE(0xfffe, 0);
  com.writeUInt16BE(text.length + 2, 2);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), com, text, sof, Buffer.from([0xff, 0xd9])]);
}

/** Width and height of a taggedPng or taggedJpeg, and its format. */
export function imageSize(bytes: Buffer): { width: number; height: number; format: 'png' | 'jpg' } | undefined {
  const png = pngSize(bytes);
  if (png) return { ...png, format: 'png' };
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  for (let i = 2; i + 9 < bytes.length; ) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    if (marker === 0xc0) return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7), format: 'jpg' };
    i += 2 + bytes.readUInt16BE(i + 2);
  }
  return undefined;
}
