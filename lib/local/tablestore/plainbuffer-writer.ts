/**
 * Reply rows, written with the SDK's own PlainBuffer writer so the checksums are exactly what its
 * reader verifies. The SDK writer needs its capacity up front; we allocate an upper bound and trim.
 */
import { PB, TableStore, crc8Byte } from './sdk.js';
import { toSdkValue, valueSize, type PkValue, type Value } from './values.js';

export interface OutRow {
  primaryKey: Array<{ name: string; value: PkValue }>;
  /** Attribute columns in the order to return them, each with its timestamp (ms). */
  cells: Array<{ name: string; value: Value; ts: number }>;
}

// Per cell: TAG_CELL, name tag + u32 + name, value tag + u32 + type + u32 + payload, ts tag + i64, checksum tag + byte.
const cellBound = (name: string, v: Value): number => 1 + 5 + Buffer.byteLength(name) + 10 + valueSize(v) + 9 + 2;

const ROW_OVERHEAD = 4; // row tags and checksum

export function rowSizeBound(row: OutRow): number {
  let size = ROW_OVERHEAD;
  for (const pk of row.primaryKey) size += cellBound(pk.name, pk.value);
  for (const cell of row.cells) size += cellBound(cell.name, cell.value);
  return size;
}

/** rowSizeBound of a row with no key and these cells, without building the row (GetRange's scan budget). */
export function cellsSizeBound(cells: ReadonlyMap<string, { value: Value }>): number {
  let size = ROW_OVERHEAD;
  cells.forEach((cell, name) => {
    size += cellBound(name, cell.value);
  });
  return size;
}

/** One header followed by the rows, as GetRange answers (and GetRow with a single row). */
export function writeRows(rows: OutRow[]): Buffer {
  const capacity = 4 + rows.reduce((n, r) => n + rowSizeBound(r), 0);
  const out = new TableStore.PlainBufferOutputStream(capacity);
  const coded = new TableStore.PlainBufferCodedOutputStream(out);
  coded.writeHeader();
  for (const row of rows) {
    let crc = coded.writePrimaryKey(
      row.primaryKey.map((pk) => ({ [pk.name]: toSdkValue(pk.value) })),
      0,
    );
    if (row.cells.length > 0) {
      coded.writeTag(PB.TAG_ROW_DATA);
      for (const cell of row.cells) crc = coded.writeColumn(cell.name, toSdkValue(cell.value), cell.ts, crc);
    }
    coded.writeRowChecksum(crc8Byte(crc, 0)); // no delete marker
  }
  return Buffer.from(out.getBuffer().subarray(0, out.count()));
}

export const writeRow = (row: OutRow): Buffer => writeRows([row]);
