/** x-oss-process parsing, EXIF orientation handling and the BMP codec. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBmp, encodeBmp } from '../../lib/local/oss/bmp.js';
import { OssError } from '../../lib/local/oss/errors.js';
import { applyProcess, parseProcess } from '../../lib/local/oss/image-process.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OssError ? `${err.status} ${err.code}` : String(err);
  }
  return 'no error';
};

describe('parseProcess', () => {
  it('parses the normalization chain the pipeline sends', () => {
    expect(parseProcess('image/auto-orient,1/resize,m_pad,w_768,h_768,color_FFFFFF,limit_0/format,png')).toEqual([
      { op: 'auto-orient', on: true },
      { op: 'resize', mode: 'pad', w: 768, h: 768, limit: false, color: 'FFFFFF' },
      { op: 'format', format: 'png' },
    ]);
    expect(parseProcess('image/resize,w_100')).toEqual([{ op: 'resize', mode: 'lfit', w: 100, limit: true, color: 'FFFFFF' }]);
  });

  it('answers bad values with OSS errors', () => {
    expect(codeOf(() => parseProcess('image/resize,w_0'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/resize,w_16385'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/resize,limit_2,w_5'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/resize,color_XYZ,w_5'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/auto-orient'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/info/format,png'))).toBe('400 InvalidArgument');
    expect(codeOf(() => parseProcess('image/'))).toBe('400 MissingArgument');
    expect(codeOf(() => parseProcess('style/thumb'))).toBe('404 NoSuchStyle');
    expect(codeOf(() => parseProcess('video/snapshot,t_0'))).toBe('501 NotImplemented');
    expect(codeOf(() => parseProcess('image/crop,w_10'))).toBe('501 NotImplemented');
  });
});

describe('auto-orient', () => {
  // An asymmetric 3×2 image: every orientation gives different pixels.
  const base = Buffer.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180]);

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %i matches sharp’s own EXIF rotation', async (orientation) => {
    const jpegless = await sharp(base, { raw: { width: 3, height: 2, channels: 3 } }).png().withMetadata({ orientation }).toBuffer();
    const expected = await sharp(jpegless).rotate().raw().toBuffer({ resolveWithObject: true });
    const out = await applyProcess(jpegless, parseProcess('image/auto-orient,1/format,png'));
    const actual = await sharp(out.body).raw().toBuffer({ resolveWithObject: true });
    expect([actual.info.width, actual.info.height]).toEqual([expected.info.width, expected.info.height]);
    expect([...actual.data]).toEqual([...expected.data]);
  });
});

describe('BMP', () => {
  it('round-trips through the encoder and decoder, and decodes 8-bit palettes', () => {
    const data = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 1, 2, 3, 200, 100, 50]);
    const bmp = encodeBmp({ data, width: 3, height: 2 });
    expect(decodeBmp(bmp)).toEqual({ data, width: 3, height: 2 });

    // 2×1, 8-bit, palette [black, white], pixels [1, 0], rows padded to 4 bytes.
    const pal = Buffer.alloc(54 + 8 + 4);
    pal.write('BM', 0, 'latin1');
    pal.writeUInt32LE(pal.length, 2);
    pal.writeUInt32LE(62, 10);
    pal.writeUInt32LE(40, 14);
    pal.writeInt32LE(2, 18);
    pal.writeInt32LE(1, 22);
    pal.writeUInt16LE(1, 26);
    pal.writeUInt16LE(8, 28);
    pal.writeUInt32LE(2, 46);
    pal.fill(255, 58, 61); // palette[1] = white (BGR)
    pal[62] = 1;
    pal[63] = 0;
    expect(decodeBmp(pal)).toEqual({ data: Buffer.from([255, 255, 255, 0, 0, 0]), width: 2, height: 1 });
  });
});
