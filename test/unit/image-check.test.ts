import { describe, expect, it } from 'vitest';
import { checkSketchBytes, planSketchView, sniffFormat } from '../../lib/contract/image-check.js';
import { InputError } from '../../lib/errors.js';
import { imageEditDoodle } from '../../lib/models/imageedit-doodle.js';
import { sketchLite } from '../../lib/models/sketch-lite.js';
import { wan25I2i } from '../../lib/models/wan25-i2i.js';

const PNG_HEAD = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const PNG_TAIL = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

describe('checkSketchBytes', () => {
  it('sniffs formats from bytes, not names', () => {
    expect(sniffFormat(PNG_HEAD)).toBe('png');
    expect(sniffFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpg');
    expect(sniffFormat(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'))).toBe('webp');
    expect(sniffFormat(Buffer.from('BM', 'latin1'))).toBe('bmp');
    expect(sniffFormat(Buffer.from('II*\u0000', 'latin1'))).toBe('tiff');
    expect(sniffFormat(Buffer.from('hello world'))).toBeUndefined();
  });

  it('accepts a complete PNG', () => {
    expect(checkSketchBytes('k.png', 5000, PNG_HEAD, PNG_TAIL)).toBe('png');
  });

  it('refuses text with a .png name, saying what it is', () => {
    const err = (() => {
      try {
        checkSketchBytes('sketches/notes.png', 11, Buffer.from('hello world'), Buffer.from('world'));
      } catch (e) {
        return e as InputError;
      }
    })()!;
    expect(err.code).toBe('UnsupportedImage');
    expect(err.message).toBe('sketches/notes.png: is text, not an image; upload a PNG, JPEG, WEBP, BMP or TIFF file');
  });

  it('refuses a truncated PNG', () => {
    expect(() => checkSketchBytes('k.png', 5000, PNG_HEAD, Buffer.alloc(12, 7))).toThrow(/truncated/);
  });

  it('refuses more than 20 MB before reading anything', () => {
    expect(() => checkSketchBytes('k.png', 30 * 1024 * 1024, Buffer.alloc(0), Buffer.alloc(0))).toThrow(/is 30\.0 MiB; a sketch may be at most 20 MiB/);
  });
});

describe('planSketchView', () => {
  it('sends a square 1024 PNG as it is', () => {
    expect(planSketchView('k', 100_000, { width: 1024, height: 1024, format: 'png' }, 'png', 'pad', sketchLite)).toEqual({ normalized: false });
  });

  it('normalizes a rotated phone photo and a tiny sketch to a padded 768 PNG', () => {
    const photo = planSketchView('k', 3_000_000, { width: 4032, height: 3024, format: 'jpg', orientation: 6 }, 'jpg', 'pad', sketchLite);
    expect(photo.process).toBe('image/auto-orient,1/resize,m_pad,w_768,h_768,limit_0,color_FFFFFF/format,png');
    const tiny = planSketchView('k', 2_000, { width: 200, height: 150, format: 'png' }, 'png', 'pad', sketchLite);
    expect(tiny).toMatchObject({ normalized: true, reason: '200×150 is not square' });
  });

  it('crops with FIT=crop and converts BMP', () => {
    expect(planSketchView('k', 9_000, { width: 512, height: 512, format: 'bmp' }, 'bmp', 'crop', sketchLite).process).toBe('image/auto-orient,1/resize,m_fill,w_768,h_768,limit_0/format,png');
  });

  it('rejects with FIT=reject, explaining the rule', () => {
    expect(() => planSketchView('k', 2_000, { width: 200, height: 150, format: 'png' }, 'png', 'reject', sketchLite)).toThrow(/with FIT=reject a sketch must be a square/);
  });

  it('refuses an image claiming 100000×100000 pixels', () => {
    expect(() => planSketchView('k', 2_000, { width: 100_000, height: 100_000, format: 'png' }, 'png', 'pad', sketchLite)).toThrow(/claims 100000×100000 pixels/);
  });

  it('names the model in a FIT=reject message', () => {
    expect(() => planSketchView('k', 2_000, { width: 200, height: 150, format: 'png' }, 'png', 'reject', sketchLite)).toThrow(
      'k: 200×150 is not square; with FIT=reject a sketch must be a square PNG/JPEG/WEBP/TIFF of 256–2048 px a side, at most 10 MiB, without EXIF rotation (wanx-sketch-to-image-lite)',
    );
  });
});

describe('planSketchView per model (issue 16)', () => {
  const plan = (model: Parameters<typeof planSketchView>[5], width: number, height: number, format: 'png' | 'jpg' | 'bmp' | 'tiff' = 'png', size = 100_000, orientation?: number) =>
    planSketchView('k', size, { width, height, format, ...(orientation ? { orientation } : {}) }, format, 'pad', model);

  it('doodle takes any aspect and BMP/TIFF as they are, within 512–4096 px and 10 MiB', () => {
    expect(plan(imageEditDoodle, 1600, 900)).toEqual({ normalized: false });
    expect(plan(imageEditDoodle, 4096, 512, 'bmp')).toEqual({ normalized: false });
    expect(plan(imageEditDoodle, 800, 800, 'tiff')).toEqual({ normalized: false });
  });

  it('doodle: a small or huge sketch keeps its aspect in a PNG view 1536 px on its long side', () => {
    const small = plan(imageEditDoodle, 400, 300);
    expect(small).toMatchObject({ normalized: true, reason: '400×300 is outside 512–4096 px', description: 'a normalized PNG view, 1536 px on its long side' });
    expect(small.process).toBe('image/auto-orient,1/resize,m_lfit,w_1536,h_1536,limit_0/format,png');
    expect(plan(imageEditDoodle, 6000, 4000, 'jpg', 3_000_000).process).toBe('image/auto-orient,1/resize,m_lfit,w_1536,h_1536,limit_0/format,png');
    expect(plan(imageEditDoodle, 1000, 1000, 'png', 11 * 1024 * 1024).reason).toBe("11.0 MiB is over the model's 10 MiB");
    expect(plan(imageEditDoodle, 1000, 1000, 'jpg', 100_000, 6).reason).toBe('EXIF orientation 6');
  });

  it('doodle: a strip too long to keep its short side at 512 is padded to a square', () => {
    expect(plan(imageEditDoodle, 8000, 1000, 'png')).toMatchObject({
      process: 'image/auto-orient,1/resize,m_pad,w_1536,h_1536,limit_0,color_FFFFFF/format,png',
      description: 'a normalized 1536×1536 PNG view',
    });
  });

  it('wan2.5: takes up to 4:1 as it is, not TIFF; beyond 4:1 a square view', () => {
    expect(plan(wan25I2i, 2000, 500)).toEqual({ normalized: false });
    expect(plan(wan25I2i, 800, 800, 'tiff')).toMatchObject({ normalized: true, reason: 'TIFF is not accepted by the model', process: 'image/auto-orient,1/resize,m_lfit,w_1536,h_1536,limit_0/format,png' });
    expect(plan(wan25I2i, 300, 300).reason).toBe('300×300 is outside 384–5000 px');
    expect(plan(wan25I2i, 2500, 500)).toMatchObject({ reason: "2500×500 is beyond the model's 1:4 aspect ratio", process: 'image/auto-orient,1/resize,m_pad,w_1536,h_1536,limit_0,color_FFFFFF/format,png' });
  });

  it('FIT=reject states each model its own rule', () => {
    expect(() => planSketchView('k', 1, { width: 2500, height: 500, format: 'png' }, 'png', 'reject', wan25I2i)).toThrow(
      'with FIT=reject a sketch must be a PNG/JPEG/WEBP/BMP of 384–5000 px a side in an aspect ratio up to 1:4, at most 10 MiB, without EXIF rotation (wan2.5-i2i-preview)',
    );
    expect(() => planSketchView('k', 1, { width: 300, height: 300, format: 'png' }, 'png', 'reject', imageEditDoodle)).toThrow(/a PNG\/JPEG\/WEBP\/BMP\/TIFF of 512–4096 px a side, at most 10 MiB/);
  });
});
