/**
 * Cell values as the emulator keeps them. INTEGER is a bigint (Tablestore integers are signed
 * 64-bit, beyond what a JS number holds exactly); BINARY is a Buffer.
 */
import { compareUtf8 } from '../utf8.js';
import { TableStore } from './sdk.js';

export type Value =
  | { type: 'INTEGER'; value: bigint }
  | { type: 'DOUBLE'; value: number }
  | { type: 'BOOLEAN'; value: boolean }
  | { type: 'STRING'; value: string }
  | { type: 'BINARY'; value: Buffer };

export type ValueType = Value['type'];
export type PkType = 'INTEGER' | 'STRING' | 'BINARY';
export type PkValue = Extract<Value, { type: PkType }>;
/** A range bound: a concrete key value or one of the open ends. */
export type PkBound = PkValue | { type: 'INF_MIN' } | { type: 'INF_MAX' };

/** The names the service uses in its messages (e.g. "Validate PK type fail. Input: VT_BLOB"). */
export const WIRE_TYPE_NAME: Record<string, string> = {
  INTEGER: 'VT_INTEGER',
  DOUBLE: 'VT_DOUBLE',
  BOOLEAN: 'VT_BOOLEAN',
  STRING: 'VT_STRING',
  BINARY: 'VT_BLOB',
  INF_MIN: 'VT_INF_MIN',
  INF_MAX: 'VT_INF_MAX',
  AUTO_INCREMENT: 'VT_AUTO_INCREMENT',
  NULL: 'VT_NULL',
};

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/**
 * Orders two values of the same type as Tablestore does: integers signed, strings and binaries
 * as unsigned bytes (memcmp, so UTF-8 order, not JS UTF-16 order), false < true.
 * Returns undefined when the types differ (a condition on mismatched types fails).
 */
export function compareValues(a: Value, b: Value): number | undefined {
  if (a.type !== b.type) return undefined;
  switch (a.type) {
    case 'INTEGER': {
      const bv = (b as typeof a).value;
      return a.value < bv ? -1 : a.value > bv ? 1 : 0;
    }
    case 'DOUBLE': {
      const bv = (b as typeof a).value;
      return a.value < bv ? -1 : a.value > bv ? 1 : 0;
    }
    case 'BOOLEAN':
      return Number(a.value) - Number((b as typeof a).value);
    case 'STRING':
      return compareUtf8(a.value, (b as typeof a).value);
    case 'BINARY':
      return Math.sign(Buffer.compare(a.value, (b as typeof a).value));
  }
}

/** Bytes a value counts for size limits (2 MB per attribute, 1 KB per key column). */
export function valueSize(v: Value): number {
  switch (v.type) {
    case 'INTEGER':
    case 'DOUBLE':
      return 8;
    case 'BOOLEAN':
      return 1;
    case 'STRING':
      return Buffer.byteLength(v.value, 'utf8');
    case 'BINARY':
      return v.value.length;
  }
}

/** The value as the SDK's PlainBuffer writer wants it (its own Int64LE for integers). */
export function toSdkValue(v: Value): unknown {
  return v.type === 'INTEGER' ? TableStore.Long.fromString(v.value.toString()) : v.value;
}

/** Plain JS form for test assertions: bigint, number, boolean, string or Buffer. */
export type JsValue = bigint | number | boolean | string | Buffer;

export function toJs(v: Value): JsValue {
  return v.value;
}

/** Accepts the plain JS form; a JS number is an INTEGER only for key lookups (peekRow). */
export function pkFromJs(x: unknown): PkValue {
  if (typeof x === 'string') return { type: 'STRING', value: x };
  if (typeof x === 'bigint') return { type: 'INTEGER', value: x };
  if (typeof x === 'number' && Number.isSafeInteger(x)) return { type: 'INTEGER', value: BigInt(x) };
  if (Buffer.isBuffer(x)) return { type: 'BINARY', value: x };
  throw new TypeError(`not a primary key value: ${String(x)}`);
}
