/** Key order, condition evaluation and the state-file format: pure parts of the emulator. */
import { describe, expect, it } from 'vitest';
import { evaluate, type Filter } from '../../lib/local/tablestore/conditions.js';
import { Database } from '../../lib/local/tablestore/database.js';
import { compareBound, comparePk } from '../../lib/local/tablestore/ordering.js';
import { deserialize, serialize } from '../../lib/local/tablestore/persistence.js';
import { Table, type Cell } from '../../lib/local/tablestore/table.js';
import { compareValues, type PkBound, type Value } from '../../lib/local/tablestore/values.js';

const int = (v: bigint): Value => ({ type: 'INTEGER', value: v });
const s = (v: string): Value => ({ type: 'STRING', value: v });
const bin = (...b: number[]): Value => ({ type: 'BINARY', value: Buffer.from(b) });

describe('ordering', () => {
  it('integers are signed 64-bit', () => {
    expect(compareValues(int(-(2n ** 63n)), int(2n ** 63n - 1n))).toBe(-1);
    expect(compareValues(int(-1n), int(0n))).toBe(-1);
    expect(compareValues(int(10n), int(9n))).toBe(1);
  });

  it('strings compare as UTF-8 bytes, binaries as unsigned bytes', () => {
    expect(compareValues(s('\uff5e'), s('\u{1f600}'))).toBe(-1); // JS '<' says the opposite
    expect('\uff5e' < '\u{1f600}').toBe(false);
    expect(compareValues(s('a'), s('a\u0000'))).toBe(-1);
    expect(compareValues(bin(0x80), bin(0x7f))).toBe(1);
    expect(compareValues(bin(), bin(0))).toBe(-1);
  });

  it('values of different types do not compare', () => {
    expect(compareValues(int(1n), { type: 'DOUBLE', value: 1 })).toBeUndefined();
  });

  it('INF_MIN and INF_MAX bound every value; keys compare column by column', () => {
    const min: PkBound = { type: 'INF_MIN' };
    const max: PkBound = { type: 'INF_MAX' };
    expect(compareBound(min, { type: 'STRING', value: '' })).toBe(-1);
    expect(compareBound(max, { type: 'INTEGER', value: 2n ** 63n - 1n })).toBe(1);
    expect(compareBound(min, min)).toBe(0);
    expect(comparePk([{ type: 'INTEGER', value: 1n }, max], [{ type: 'INTEGER', value: 2n }, min])).toBe(-1);
    expect(comparePk([{ type: 'INTEGER', value: 2n }, min], [{ type: 'INTEGER', value: 2n }, { type: 'STRING', value: '' }])).toBe(-1);
  });
});

describe('conditions', () => {
  const cells = new Map<string, Cell>([
    ['status', { value: s('RUNNING'), ts: 1 }],
    ['lease', { value: int(100n), ts: 1 }],
  ]);
  const single = (column: string, comparator: 'EQUAL' | 'LESS_THAN', value: Value, filterIfMissing = false): Filter => ({
    kind: 'single',
    column,
    comparator,
    value,
    filterIfMissing,
    latestVersionOnly: true,
  });

  it('missing columns pass unless filterIfMissing; type mismatches fail', () => {
    expect(evaluate(single('absent', 'EQUAL', s('x')), cells)).toBe(true);
    expect(evaluate(single('absent', 'EQUAL', s('x'), true), cells)).toBe(false);
    expect(evaluate(single('lease', 'EQUAL', s('100')), cells)).toBe(false);
  });

  it('composites nest', () => {
    const f: Filter = {
      kind: 'composite',
      combinator: 'OR',
      subs: [
        single('status', 'EQUAL', s('QUEUED'), true),
        { kind: 'composite', combinator: 'AND', subs: [single('status', 'EQUAL', s('RUNNING'), true), single('lease', 'LESS_THAN', int(200n), true)] },
      ],
    };
    expect(evaluate(f, cells)).toBe(true);
    expect(evaluate({ kind: 'composite', combinator: 'NOT', subs: [f] }, cells)).toBe(false);
  });
});

describe('state format', () => {
  it('round-trips tables and rows exactly', () => {
    const db = new Database();
    const table = new Table({
      name: 't',
      primaryKey: [{ name: 'k', type: 'BINARY' }],
      definedColumns: [],
      timeToLive: -1,
      maxVersions: 1,
      maxTimeDeviation: 86400,
      allowUpdate: true,
      reservedRead: 0,
      reservedWrite: 0,
      createdAt: 1,
    });
    table.setStored({ primaryKey: [{ type: 'BINARY', value: Buffer.from([255]) }], cells: new Map([['d', { value: { type: 'DOUBLE', value: -0 }, ts: 3 }]]) });
    table.setStored({ primaryKey: [{ type: 'BINARY', value: Buffer.from([1]) }], cells: new Map(), putAt: 5 });
    db.tables.set('t', table);
    const copy = new Database();
    deserialize(serialize(db), copy);
    const rows = copy.tables.get('t')!.rows;
    expect(rows.map((r) => r.primaryKey[0]!.value)).toEqual([Buffer.from([1]), Buffer.from([255])]);
    expect(rows[0]!.putAt).toBe(5);
    expect(Object.is(rows[1]!.cells.get('d')!.value.value, -0)).toBe(true);
  });
});
