/**
 * The emulator's PlainBuffer reader against what the SDK's builder really produces (including what
 * the SDK's own reader cannot parse), and its writer against the SDK's reader.
 */
import TableStore from 'tablestore';
import { describe, expect, it } from 'vitest';
import { readRow, readRows, readSqlVariant } from '../../lib/local/tablestore/plainbuffer-reader.js';
import { writeRows } from '../../lib/local/tablestore/plainbuffer-writer.js';

interface SdkInternals {
  PlainBufferBuilder: {
    serializePrimaryKey(pk: unknown[]): Buffer;
    serializeForPutRow(pk: unknown[], attrs: unknown[]): Buffer;
    serializeForUpdateRow(pk: unknown[], attrs: unknown[]): Buffer;
    serializeForDeleteRow(pk: unknown[]): Buffer;
    serializeColumnValue(v: unknown): Buffer;
  };
  PlainBufferInputStream: new (b: { buffer: Buffer; offset: number; limit: number }) => unknown;
  PlainBufferCodedInputStream: new (s: unknown) => { readRows(): Array<{ primaryKey: Array<{ name: string; value: unknown }>; attributes: Array<{ columnName: string; columnValue: unknown; timestamp: unknown }> }> };
}
const sdk = TableStore as unknown as SdkInternals;
const B = sdk.PlainBufferBuilder;
const { Long, INF_MIN, INF_MAX } = TableStore;

describe('PlainBuffer reader', () => {
  it('reads a put row with every value type and per-column timestamps', () => {
    const row = readRow(
      B.serializeForPutRow(
        [{ id: 'k' }, { n: Long.fromNumber(-2) }, { b: Buffer.from([9]) }],
        [{ s: 'ü' }, { i: Long.fromString('-9223372036854775808') }, { d: 2.5 }, { t: false }, { bin: Buffer.alloc(3) }, { ts: 'x', timestamp: 1234 }],
      ),
    );
    expect(row.deleteMarker).toBe(false);
    expect(row.primaryKey.map((c) => [c.name, c.value])).toEqual([
      ['id', { type: 'STRING', value: 'k' }],
      ['n', { type: 'INTEGER', value: -2n }],
      ['b', { type: 'BINARY', value: Buffer.from([9]) }],
    ]);
    expect(row.cells).toEqual([
      { name: 's', value: { type: 'STRING', value: 'ü' } },
      { name: 'i', value: { type: 'INTEGER', value: -(2n ** 63n) } },
      { name: 'd', value: { type: 'DOUBLE', value: 2.5 } },
      { name: 't', value: { type: 'BOOLEAN', value: false } },
      { name: 'bin', value: { type: 'BINARY', value: Buffer.alloc(3) } },
      { name: 'ts', value: { type: 'STRING', value: 'x' }, timestamp: 1234n },
    ]);
  });

  it('reads update ops the SDK reader breaks on: DELETE (one version), DELETE_ALL, INCREMENT', () => {
    const row = readRow(
      B.serializeForUpdateRow(
        [{ id: 'k' }],
        [{ PUT: [{ a: 'x' }, { t: 'y', timestamp: 99 }] }, { DELETE: [{ b: 77 }] }, { DELETE_ALL: ['c'] }, { INCREMENT: [{ n: Long.fromNumber(5) }] }],
      ),
    );
    expect(row.cells).toEqual([
      { name: 'a', value: { type: 'STRING', value: 'x' } },
      { name: 't', value: { type: 'STRING', value: 'y' }, timestamp: 99n },
      { name: 'b', op: 'DELETE_ONE', timestamp: 77n },
      { name: 'c', op: 'DELETE_ALL' },
      { name: 'n', value: { type: 'INTEGER', value: 5n }, op: 'INCREMENT' },
    ]);
  });

  it('reads range bounds (INF_MIN, INF_MAX) and delete markers', () => {
    expect(readRow(B.serializePrimaryKey([{ a: INF_MIN }, { b: INF_MAX }])).primaryKey.map((c) => c.value)).toEqual([{ type: 'INF_MIN' }, { type: 'INF_MAX' }]);
    expect(readRow(B.serializeForDeleteRow([{ a: 'x' }])).deleteMarker).toBe(true);
  });

  it('reads filter values (SQLVariant)', () => {
    expect(readSqlVariant(B.serializeColumnValue(Long.fromNumber(-1)))).toEqual({ type: 'INTEGER', value: -1n });
    expect(readSqlVariant(B.serializeColumnValue('abc'))).toEqual({ type: 'STRING', value: 'abc' });
    expect(readSqlVariant(B.serializeColumnValue(true))).toEqual({ type: 'BOOLEAN', value: true });
  });

  it('refuses broken checksums and headers with OTSParameterInvalid', () => {
    const good = B.serializeForPutRow([{ id: 'k' }], [{ a: 'x' }]);
    const badCell = Buffer.from(good);
    badCell[badCell.length - 3] = badCell[badCell.length - 3]! ^ 0xff; // the cell checksum byte
    expect(() => readRow(badCell)).toThrow(/checksum is mismatch/);
    const badRow = Buffer.from(good);
    badRow[badRow.length - 1] = badRow[badRow.length - 1]! ^ 0xff;
    expect(() => readRow(badRow)).toThrow(/checksum is mismatch/);
    const badHeader = Buffer.from(good);
    badHeader[0] = 0;
    expect(() => readRow(badHeader)).toThrow(expect.objectContaining({ code: 'OTSParameterInvalid' }));
    expect(() => readRow(good.subarray(0, good.length - 4))).toThrow(expect.objectContaining({ code: 'OTSParameterInvalid' }));
  });
});

describe('PlainBuffer writer', () => {
  it('writes rows the SDK reader accepts, checksums included', () => {
    const buf = writeRows([
      {
        primaryKey: [
          { name: 'id', value: { type: 'STRING', value: 'ключ' } },
          { name: 'n', value: { type: 'INTEGER', value: -(2n ** 63n) } },
        ],
        cells: [
          { name: 'b', value: { type: 'BINARY', value: Buffer.from([1, 2]) }, ts: 5 },
          { name: 'd', value: { type: 'DOUBLE', value: -1.25 }, ts: 6 },
          { name: 'f', value: { type: 'BOOLEAN', value: true }, ts: 7 },
        ],
      },
      { primaryKey: [{ name: 'id', value: { type: 'STRING', value: '' } }, { name: 'n', value: { type: 'INTEGER', value: 1n } }], cells: [] },
    ]);
    const rows = new sdk.PlainBufferCodedInputStream(new sdk.PlainBufferInputStream({ buffer: buf, offset: 0, limit: buf.length })).readRows();
    expect(rows.map((r) => r.primaryKey.map((p) => String(p.value)))).toEqual([
      ['ключ', '-9223372036854775808'],
      ['', '1'],
    ]);
    expect(rows[0]!.attributes.map((a) => [a.columnName, a.columnValue, String(a.timestamp)])).toEqual([
      ['b', Buffer.from([1, 2]), '5'],
      ['d', -1.25, '6'],
      ['f', true, '7'],
    ]);
    // And the emulator's own reader reads it back.
    expect(readRows(buf)).toHaveLength(2);
  });
});
