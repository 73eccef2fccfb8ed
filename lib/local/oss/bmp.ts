/**
 * BMP, which OSS image processing reads and writes but sharp (libvips without ImageMagick) does
 * not: a small decoder for uncompressed BMPs (1/4/8/24/32-bit, BI_RGB and BI_BITFIELDS) and a
 * 24-bit encoder, so BMP sketches can be normalized like on OSS.
 */
export function isBmp(buf: Buffer): boolean {
  return buf.length >= 26 && buf[0] === 0x42 && buf[1] === 0x4d;
}

export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

export function decodeBmp(buf: Buffer): RawRgb {
  const fail = (why: string): never => {
    throw new Error(`unsupported BMP: ${why}`);
  };
  if (!isBmp(buf) || buf.length < 54) fail('truncated header');
  const dataOffset = buf.readUInt32LE(10);
  const dibSize = buf.readUInt32LE(14);
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height === 0 || width > 30000 || height > 30000) fail('bad dimensions');
  if (compression !== 0 && compression !== 3) fail(`compression ${compression}`);
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) fail('truncated pixel data');

  let palette: number[][] = [];
  if (bpp <= 8) {
    const count = buf.readUInt32LE(46) || 1 << bpp;
    const start = 14 + dibSize;
    palette = Array.from({ length: count }, (_, i) => [buf[start + i * 4 + 2]!, buf[start + i * 4 + 1]!, buf[start + i * 4]!]);
  }
  // Channel masks: from the header (BI_BITFIELDS) or the defaults for 16 and 32 bits.
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  if (compression === 3) masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62)];
  const channel = (value: number, mask: number): number => {
    if (mask === 0) return 0;
    let shift = 0;
    while (((mask >>> shift) & 1) === 0) shift++;
    const max = mask >>> shift;
    return Math.round((((value & mask) >>> shift) * 255) / max);
  };

  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      let rgb: number[];
      if (bpp === 24) rgb = [buf[row + x * 3 + 2]!, buf[row + x * 3 + 1]!, buf[row + x * 3]!];
      else if (bpp === 32) {
        const v = buf.readUInt32LE(row + x * 4);
        rgb = masks.map((m) => channel(v, m));
      } else if (bpp === 16) {
        const v = buf.readUInt16LE(row + x * 2);
        rgb = masks.map((m) => channel(v, m));
      } else if (bpp === 8 || bpp === 4 || bpp === 1) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)]!;
        const index = (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        rgb = palette[index] ?? [0, 0, 0];
      } else {
        return fail(`${bpp} bits per pixel`);
      }
      out[(y * width + x) * 3] = rgb[0]!;
      out[(y * width + x) * 3 + 1] = rgb[1]!;
      out[(y * width + x) * 3 + 2] = rgb[2]!;
    }
  }
  return { data: out, width, height };
}

/** 24-bit bottom-up BMP from raw RGB. */
export function encodeBmp({ data, width, height }: RawRgb): Buffer {
  const stride = Math.floor((24 * width + 31) / 32) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  out.writeInt32LE(2835, 38); // 72 dpi
  out.writeInt32LE(2835, 42);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[row + x * 3] = data[i + 2]!;
      out[row + x * 3 + 1] = data[i + 1]!;
      out[row + x * 3 + 2] = data[i]!;
    }
  }
  return out;
}
