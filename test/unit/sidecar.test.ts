import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.js';
import { parseSidecarJson, parseSidecarTxt } from '../../lib/contract/sidecar.js';

const parse = (value: unknown) => {
  const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  return parseSidecarJson('sketches/cat.json', bytes, bytes.length);
};

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('sidecar JSON', () => {
  it('accepts the SPEC example and normalizes the style', () => {
    expect(parse({ prompt: ' a towering tree ', style: 'Watercolor', n: 1, sketch_weight: 10, sketch_extraction: false, sketch_color: [[0, 0, 0]], size: '768*768' })).toEqual({
      prompt: 'a towering tree',
      style: '<watercolor>',
      n: 1,
      sketch_weight: 10,
      sketch_extraction: false,
      sketch_color: [[0, 0, 0]],
      size: '768*768',
    });
    expect(parse({ style: '<3D Cartoon>' }).style).toBe('<3d cartoon>');
  });

  it('names an unknown field and suggests the right one', () => {
    const err = inputError(() => parse({ prompt: 'x', styel: 'anime' }));
    expect(err.code).toBe('InvalidSidecar');
    expect(err.message).toContain("sketches/cat.json: unknown field 'styel' (did you mean 'style'?)");
  });

  it('reports every problem at once, with the field path', () => {
    const err = inputError(() => parse({ prompt: '', n: 7, style: 'pastel', sketch_color: [[0, 0, 300]], size: '1024*1024' }));
    expect(err.message).toContain('prompt must not be empty');
    expect(err.message).toContain('n must be an integer 1–4 (got 7)');
    expect(err.message).toContain('style must be one of');
    expect(err.message).toContain('(got "pastel")');
    expect(err.message).toContain('sketch_color[0] must be an [r, g, b] triple');
    expect(err.message).toContain('size must be "768*768"');
  });

  it('refuses non-JSON, non-objects, non-UTF-8 and oversized files', () => {
    expect(inputError(() => parse('{"prompt": ')).message).toMatch(/sketches\/cat\.json: is not valid JSON/);
    expect(inputError(() => parse([1, 2])).message).toContain('must be a JSON object');
    const latin1 = Buffer.from([0x7b, 0x22, 0x70, 0xe9, 0x22, 0x7d]);
    expect(inputError(() => parseSidecarJson('k.json', latin1, latin1.length)).message).toBe('k.json: is not UTF-8 text; save it as UTF-8');
    expect(inputError(() => parseSidecarJson('k.json', Buffer.from('{}'), 2 * 1024 * 1024)).message).toBe('k.json: is 2.0 MiB; a sidecar may be at most 64 KiB');
  });

  it('treats __proto__ and constructor as unknown fields, without touching prototypes', () => {
    const err = inputError(() => parse('{"prompt":"x","__proto__":{"polluted":1},"constructor":{"prototype":{"p":1}}}'));
    expect(err.message).toContain("unknown field '__proto__'");
    expect(err.message).toContain("unknown field 'constructor'");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts a UTF-8 BOM', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"prompt":"猫"}')]);
    expect(parseSidecarJson('k.json', bytes, bytes.length)).toEqual({ prompt: '猫' });
  });
});

describe('sidecar text', () => {
  it('uses the whole trimmed file as the prompt', () => {
    const bytes = Buffer.from('\n  a cat on a mat \n');
    expect(parseSidecarTxt('k.txt', bytes, bytes.length)).toEqual({ prompt: 'a cat on a mat' });
  });

  it('refuses an empty file', () => {
    expect(inputError(() => parseSidecarTxt('k.txt', Buffer.from('  \n'), 3)).message).toBe('k.txt: is empty; write the prompt in it');
  });
});
