import { describe, expect, it } from 'vitest';
import { fieldsFromMetadata, resolveRequest } from '../../lib/contract/request.js';
import { InputError } from '../../lib/errors.js';

const config = { style: '<auto>', n: 1 };

describe('resolveRequest', () => {
  it('takes each field from the highest source that has it', () => {
    const req = resolveRequest({
      sidecar: { n: 2 },
      metadata: { prompt: encodeURIComponent('一只猫'), style: 'anime' },
      defaults: [{ prompt: 'folder prompt', style: '<watercolor>', sketch_weight: 5 }, { sketch_weight: 1, n: 4 }],
      config,
    });
    expect(req).toEqual({ prompt: '一只猫', parameters: { style: '<anime>', size: '768*768', n: 2, sketch_weight: 5 }, warnings: [] });
  });

  it('always sends n, defaulting to the configured 1 (DashScope would bill 4)', () => {
    expect(resolveRequest({ sidecar: { prompt: 'x' }, defaults: [], config })!.parameters.n).toBe(1);
  });

  it('has no request while no source gives a prompt', () => {
    expect(resolveRequest({ sidecar: { style: '<anime>' }, metadata: {}, defaults: [{ n: 2 }], config })).toBeUndefined();
  });

  it('warns when the prompt is longer than the model reads', () => {
    const req = resolveRequest({ sidecar: { prompt: 'x'.repeat(100) }, defaults: [], config })!;
    expect(req.warnings).toEqual(['the prompt has 100 characters; the model reads only the first 75']);
  });

  it('refuses a metadata style it does not know', () => {
    expect(() => fieldsFromMetadata({ style: 'pastel' })).toThrow(InputError);
  });

  it('reads a prompt that was not percent-encoded as written', () => {
    expect(fieldsFromMetadata({ prompt: '100% cat' })).toEqual({ prompt: '100% cat' });
  });
});
