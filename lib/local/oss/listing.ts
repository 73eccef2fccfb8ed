/**
 * One page of a bucket listing, as OSS computes it for ListObjects (V1) and ListObjectsV2: keys
 * after the marker, grouped into common prefixes by the delimiter, at most max-keys entries
 * (keys and prefixes both count), and where the next page starts.
 */
import { compareKeys, type ObjectRecord } from './store.js';

export interface ListQuery {
  prefix: string;
  /** Exclusive start: only keys (and prefixes) after it. */
  marker: string;
  delimiter: string;
  maxKeys: number;
}

export interface ListPage {
  contents: Array<{ key: string; record: ObjectRecord }>;
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or prefix of this page, where the next page starts (when truncated). */
  next?: string;
}

export function listPage(sorted: Array<{ key: string; record: ObjectRecord }>, q: ListQuery): ListPage {
  const page: ListPage = { contents: [], commonPrefixes: [], truncated: false };
  let last: string | undefined;
  for (const entry of sorted) {
    if (!entry.key.startsWith(q.prefix) || compareKeys(entry.key, q.marker) <= 0) continue;
    let prefix: string | undefined;
    if (q.delimiter) {
      const at = entry.key.indexOf(q.delimiter, q.prefix.length);
      if (at >= 0) prefix = entry.key.slice(0, at + q.delimiter.length);
    }
    // A prefix already returned on this page, or that the marker sits inside (previous page).
    if (prefix !== undefined && (prefix === last || (q.marker && q.marker.startsWith(prefix)))) continue;
    if (page.contents.length + page.commonPrefixes.length >= q.maxKeys) {
      page.truncated = true;
      break;
    }
    if (prefix !== undefined) page.commonPrefixes.push(prefix);
    else page.contents.push(entry);
    last = prefix ?? entry.key;
  }
  if (page.truncated) page.next = last;
  return page;
}
