/** GetObject Range parsing as OSS does it. */
import { expect, it } from 'vitest';
import { parseRange } from '../../lib/local/oss/range.js';

it('parses single byte ranges and ignores what OSS ignores', () => {
  expect(parseRange(undefined, 10)).toEqual({ kind: 'whole' });
  expect(parseRange('bytes=2-5', 10)).toEqual({ kind: 'partial', start: 2, end: 5 });
  expect(parseRange('bytes=7-', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
  expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
  expect(parseRange('bytes=5-100', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
  expect(parseRange('bytes=20-30', 10)).toEqual({ kind: 'unsatisfiable' });
  expect(parseRange('bytes=5-2', 10)).toEqual({ kind: 'whole' });
  expect(parseRange('bytes=0-1,4-5', 10)).toEqual({ kind: 'whole' });
  expect(parseRange('items=0-1', 10)).toEqual({ kind: 'whole' });
});
