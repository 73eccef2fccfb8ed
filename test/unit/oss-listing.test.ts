/** Listing pages: marker, prefix, delimiter, max-keys, and OSS's UTF-8 byte order. */
import { describe, expect, it } from 'vitest';
import { listPage } from '../../lib/local/oss/listing.js';
import { compareKeys, type ObjectRecord } from '../../lib/local/oss/store.js';

const rec: ObjectRecord = { etag: 'E', crc64: '0', objectType: 'Normal', size: 0, contentType: 'x', userMeta: {}, headers: {}, lastModified: 0 };
const entries = (keys: string[]) => [...keys].sort(compareKeys).map((key) => ({ key, record: rec }));
const all = entries(['a', 'b/1', 'b/2', 'b/3', 'c', 'd/x/1', 'd/y', 'e']);

describe('listPage', () => {
  it('pages through everything with a marker', () => {
    const seen: string[] = [];
    let marker = '';
    for (;;) {
      const page = listPage(all, { prefix: '', marker, delimiter: '', maxKeys: 3 });
      seen.push(...page.contents.map((c) => c.key));
      if (!page.truncated) break;
      marker = page.next!;
    }
    expect(seen).toEqual(all.map((e) => e.key));
  });

  it('rolls keys into common prefixes, which count toward max-keys and can be the marker', () => {
    const p1 = listPage(all, { prefix: '', marker: '', delimiter: '/', maxKeys: 2 });
    expect([p1.contents.map((c) => c.key), p1.commonPrefixes, p1.next]).toEqual([['a'], ['b/'], 'b/']);
    const p2 = listPage(all, { prefix: '', marker: 'b/', delimiter: '/', maxKeys: 2 });
    expect([p2.contents.map((c) => c.key), p2.commonPrefixes, p2.truncated]).toEqual([['c'], ['d/'], true]);
    const p3 = listPage(all, { prefix: '', marker: 'd/', delimiter: '/', maxKeys: 2 });
    expect([p3.contents.map((c) => c.key), p3.commonPrefixes, p3.truncated]).toEqual([['e'], [], false]);
  });

  it('groups below the prefix only', () => {
    const page = listPage(all, { prefix: 'd/', marker: '', delimiter: '/', maxKeys: 100 });
    expect([page.contents.map((c) => c.key), page.commonPrefixes]).toEqual([['d/y'], ['d/x/']]);
  });

  it('orders by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F431 (F0 …) in bytes, after it in UTF-16.
    expect(entries(['\u{1F431}', '\uFF5E']).map((e) => e.key)).toEqual(['\uFF5E', '\u{1F431}']);
  });
});
