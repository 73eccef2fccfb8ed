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
  it('keeps the known fields as written (values are the model\'s business: request.ts), the prompt trimmed', () => {
    const layer = parse({ prompt: ' a towering tree ', style: 'Watercolor', n: 1, sketch_weight: 10, sketch_extraction: false, sketch_color: [[0, 0, 0]], size: '768*768' });
    expect(layer).toMatchObject({ source: 'sketches/cat.json', kind: 'file', problems: [] });
    expect({ ...layer.fields }).toEqual({ prompt: 'a towering tree', style: 'Watercolor', n: 1, sketch_weight: 10, sketch_extraction: false, sketch_color: [[0, 0, 0]], size: '768*768' });
    expect({ ...parse({ model: ' wan2.5-i2i-preview ', negative_prompt: 'blur' }).fields }).toEqual({ model: 'wan2.5-i2i-preview', negative_prompt: 'blur' });
  });

  it('names an unknown field and suggests the right one', () => {
    const layer = parse({ prompt: 'x', styel: 'anime' });
    expect(layer.problems.join('; ')).toContain("unknown field 'styel' (did you mean 'style'?)");
  });

  it('names the known models for an unknown one', () => {
    const layer = parse({ prompt: 'x', model: 'dall-e-3' });
    expect(layer.badModel).toBe(true);
    expect(layer.problems).toEqual(['model must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")']);
  });

  it('reports the problems of names, prompt and model together', () => {
    const layer = parse({ prompt: '', styel: 1, model: 7 });
    expect(layer.problems).toHaveLength(3);
    expect(layer.problems[0]).toBe('prompt must not be empty');
  });

  it('refuses non-JSON, non-objects, non-UTF-8 and oversized files', () => {
    expect(inputError(() => parse('{"prompt": ')).message).toMatch(/sketches\/cat\.json: is not valid JSON/);
    expect(inputError(() => parse([1, 2])).message).toContain('must be a JSON object');
    expect(inputError(() => parse('null')).message).toContain('must be a JSON object');
    const latin1 = Buffer.from([0x7b, 0x22, 0x70, 0xe9, 0x22, 0x7d]);
    expect(inputError(() => parseSidecarJson('k.json', latin1, latin1.length)).message).toBe('k.json: is not UTF-8 text; save it as UTF-8');
    expect(inputError(() => parseSidecarJson('k.json', Buffer.from('{}'), 2 * 1024 * 1024)).message).toBe('k.json: is 2.0 MiB; a sidecar may be at most 64 KiB');
  });

  it('treats __proto__ and constructor as unknown fields, without touching prototypes', () => {
    const problems = parse('{"prompt":"x","__proto__":{"polluted":1},"constructor":{"prototype":{"p":1}}}').problems.join('; ');
    expect(problems).toContain("unknown field '__proto__'");
    expect(problems).toContain("unknown field 'constructor'");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts a UTF-8 BOM', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"prompt":"猫"}')]);
    expect({ ...parseSidecarJson('k.json', bytes, bytes.length).fields }).toEqual({ prompt: '猫' });
  });
});

describe('sidecar text', () => {
  it('uses the whole trimmed file as the prompt', () => {
    const bytes = Buffer.from('\n  a cat on a mat \n');
    expect(parseSidecarTxt('k.txt', bytes, bytes.length)).toEqual({ source: 'k.txt', kind: 'file', fields: { prompt: 'a cat on a mat' }, problems: [] });
  });

  it('refuses an empty file', () => {
    expect(inputError(() => parseSidecarTxt('k.txt', Buffer.from('  \n'), 3)).message).toBe('k.txt: is empty; write the prompt in it');
  });
});
