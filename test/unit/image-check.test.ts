import { describe, expect, it } from 'vitest';
import { checkSketchBytes, planSketchView, sniffFormat } from '../../lib/contract/image-check.js';
import { InputError } from '../../lib/errors.js';

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
    expect(planSketchView('k', 100_000, { width: 1024, height: 1024, format: 'png' }, 'png', 'pad')).toEqual({ normalized: false });
  });

  it('normalizes a rotated phone photo and a tiny sketch to a padded 768 PNG', () => {
    const photo = planSketchView('k', 3_000_000, { width: 4032, height: 3024, format: 'jpg', orientation: 6 }, 'jpg', 'pad');
    expect(photo.process).toBe('image/auto-orient,1/resize,m_pad,w_768,h_768,limit_0,color_FFFFFF/format,png');
    const tiny = planSketchView('k', 2_000, { width: 200, height: 150, format: 'png' }, 'png', 'pad');
    expect(tiny).toMatchObject({ normalized: true, reason: '200×150 is not square' });
  });

  it('crops with FIT=crop and converts BMP', () => {
    expect(planSketchView('k', 9_000, { width: 512, height: 512, format: 'bmp' }, 'bmp', 'crop').process).toBe('image/auto-orient,1/resize,m_fill,w_768,h_768,limit_0/format,png');
  });

  it('rejects with FIT=reject, explaining the rule', () => {
    expect(() => planSketchView('k', 2_000, { width: 200, height: 150, format: 'png' }, 'png', 'reject')).toThrow(/with FIT=reject a sketch must be a square/);
  });

  it('refuses an image claiming 100000×100000 pixels', () => {
    expect(() => planSketchView('k', 2_000, { width: 100_000, height: 100_000, format: 'png' }, 'png', 'pad')).toThrow(/claims 100000×100000 pixels/);
  });
});
