/**
 * Primary-key order: column by column, each column by its type's order, with INF_MIN below and
 * INF_MAX above every value. Rows of one table share the schema, so column types always match.
 */
import { compareValues, type PkBound, type PkValue } from './values.js';

export function compareBound(a: PkBound, b: PkBound): number {
  if (a.type === 'INF_MIN' || a.type === 'INF_MAX' || b.type === 'INF_MIN' || b.type === 'INF_MAX') {
    const rank = (x: PkBound) => (x.type === 'INF_MIN' ? -1 : x.type === 'INF_MAX' ? 1 : 0);
    return Math.sign(rank(a) - rank(b));
  }
  const c = compareValues(a, b);
  if (c === undefined) throw new Error(`primary key types differ: ${a.type} vs ${b.type}`);
  return c;
}

export function comparePk(a: readonly PkBound[], b: readonly PkBound[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareBound(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** A string identity for a key, for duplicate detection within a batch. */
export function pkIdentity(pk: readonly PkValue[]): string {
  return pk.map((v) => `${v.type}:${v.type === 'BINARY' ? v.value.toString('base64') : String(v.value)}`).join('\u0000');
}
