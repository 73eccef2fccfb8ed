/**
 * PlainBuffer reader for what the SDK sends. The SDK's own reader cannot parse requests: it knows
 * no INF_MIN/INF_MAX/AUTO_INCREMENT key values and breaks on a cell op type (update deletes and
 * increments). Checksums are verified as the service does; errors use the service's messages.
 */
import { paramInvalid } from './errors.js';
import { PB, crc8, crc8Byte } from './sdk.js';
import type { Value } from './values.js';

/** A value as found on the wire, before checking it is allowed where it appears. */
export type WireValue = Value | { type: 'INF_MIN' } | { type: 'INF_MAX' } | { type: 'AUTO_INCREMENT' } | { type: 'NULL' };

export type CellOp = 'DELETE_ALL' | 'DELETE_ONE' | 'INCREMENT';

export interface WireCell {
  name: string;
  value?: WireValue;
  op?: CellOp;
  /** Milliseconds, as sent. */
  timestamp?: bigint;
}

export interface WireRow {
  primaryKey: WireCell[];
  cells: WireCell[];
  deleteMarker: boolean;
}

const broken = (detail: string) => paramInvalid(`Cell data broken, ${detail}`);
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw paramInvalid('Input encoded PK broken, length is shorter than expect.');
  }
  /** The next tag, or 0 at the end (0 is not a valid tag). */
  tag(): number {
    return this.pos >= this.buf.length ? 0 : this.u8();
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw paramInvalid(`Value of column ${what} must be UTF8 encoding.`);
  }
}

/** Reads one value (type byte + payload) and folds it into the cell checksum. */
function readValue(c: Cursor, crc: number, name: string): { value: WireValue; crc: number } {
  const type = c.u8();
  crc = crc8Byte(crc, type);
  switch (type) {
    case PB.VT_INTEGER: {
      const b = c.bytes(8);
      return { value: { type: 'INTEGER', value: b.readBigInt64LE(0) }, crc: crc8(crc, b) };
    }
    case PB.VT_DOUBLE: {
      const b = c.bytes(8);
      return { value: { type: 'DOUBLE', value: b.readDoubleLE(0) }, crc: crc8(crc, b) };
    }
    case PB.VT_BOOLEAN: {
      const b = c.u8();
      return { value: { type: 'BOOLEAN', value: b !== 0 }, crc: crc8Byte(crc, b) };
    }
    case PB.VT_STRING:
    case PB.VT_BLOB: {
      const lenBytes = c.bytes(4);
      const data = c.bytes(lenBytes.readUInt32LE(0));
      crc = crc8(crc8(crc, lenBytes), data);
      const value: Value =
        type === PB.VT_STRING ? { type: 'STRING', value: decodeUtf8(data, name) } : { type: 'BINARY', value: Buffer.from(data) };
      return { value, crc };
    }
    case PB.VT_INF_MIN:
      return { value: { type: 'INF_MIN' }, crc };
    case PB.VT_INF_MAX:
      return { value: { type: 'INF_MAX' }, crc };
    case PB.VT_AUTO_INCREMENT:
      return { value: { type: 'AUTO_INCREMENT' }, crc };
    case PB.VT_NULL:
      return { value: { type: 'NULL' }, crc };
    default:
      throw paramInvalid('data format is invalid, unknown variant type occured.');
  }
}

/** Reads a cell whose TAG_CELL was just consumed; returns it with its checksum and the next tag. */
function readCell(c: Cursor): { cell: WireCell; crc: number; next: number } {
  if (c.tag() !== PB.TAG_CELL_NAME) throw broken('no valid element in Cell.');
  const nameBytes = c.bytes(c.u32());
  // Valid column names are ASCII. Refuse any other at once, before the rest of the buffer is read:
  // the Node SDK writes a name's UTF-16 length, so a non-ASCII name arrives cut short and what
  // follows it would be misread as a broken cell.
  if (nameBytes.some((b) => b >= 0x80)) throw paramInvalid(`Invalid column name: '${nameBytes.toString('utf8')}'.`);
  const name = nameBytes.toString('latin1');
  let crc = crc8(0, nameBytes);
  const cell: WireCell = { name };
  let tag = c.tag();
  if (tag === PB.TAG_CELL_VALUE) {
    const length = c.u32();
    const start = c.pos;
    const read = readValue(c, crc, name);
    if (c.pos - start !== length) throw broken(`wrong string format, size: ${length}.`);
    cell.value = read.value;
    crc = read.crc;
    tag = c.tag();
  }
  // The SDK writes the op type before the timestamp; the checksum covers timestamp, then op.
  let tsBytes: Buffer | undefined;
  let op: number | undefined;
  while (tag === PB.TAG_CELL_TYPE || tag === PB.TAG_CELL_TIMESTAMP) {
    if (tag === PB.TAG_CELL_TYPE) op = c.u8();
    else tsBytes = c.bytes(8);
    tag = c.tag();
  }
  if (tsBytes) {
    cell.timestamp = tsBytes.readBigInt64LE(0);
    crc = crc8(crc, tsBytes);
  }
  if (op !== undefined) {
    if (op === PB.DELETE_ALL_VERSION) cell.op = 'DELETE_ALL';
    else if (op === PB.DELETE_ONE_VERSION) cell.op = 'DELETE_ONE';
    else if (op === PB.INCREMENT) cell.op = 'INCREMENT';
    else throw paramInvalid(`Invalid op type of cell: ${op}.`);
    crc = crc8Byte(crc, op);
  }
  if (tag !== PB.TAG_CELL_CHECKSUM) throw broken('cell is not end with checksum[0x0A] tag.');
  const sum = c.u8();
  if (sum !== crc) throw broken(`checksum is mismatch, ${sum} : ${crc}`);
  return { cell, crc, next: c.tag() };
}

function readOneRow(c: Cursor, firstTag: number): { row: WireRow; next: number } {
  if (firstTag !== PB.TAG_ROW_PK) throw broken(`mismatch tag, actual tag(${firstTag}), expect(${PB.TAG_ROW_PK}).`);
  const row: WireRow = { primaryKey: [], cells: [], deleteMarker: false };
  let rowCrc = 0;
  let tag = c.tag();
  while (tag === PB.TAG_CELL) {
    const r = readCell(c);
    row.primaryKey.push(r.cell);
    rowCrc = crc8Byte(rowCrc, r.crc);
    tag = r.next;
  }
  if (row.primaryKey.length === 0) throw broken('PK is empty.');
  if (tag === PB.TAG_ROW_DATA) {
    tag = c.tag();
    while (tag === PB.TAG_CELL) {
      const r = readCell(c);
      row.cells.push(r.cell);
      rowCrc = crc8Byte(rowCrc, r.crc);
      tag = r.next;
    }
  }
  if (tag === PB.TAG_DELETE_ROW_MARKER) {
    row.deleteMarker = true;
    tag = c.tag();
  }
  rowCrc = crc8Byte(rowCrc, row.deleteMarker ? 1 : 0);
  if (tag !== PB.TAG_ROW_CHECKSUM) throw broken('row is not end with checksum tag.');
  const sum = c.u8();
  if (sum !== rowCrc) throw broken(`checksum is mismatch, ${sum} : ${rowCrc}`);
  return { row, next: c.tag() };
}

/** All rows of a buffer (one header, rows back to back). */
export function readRows(buf: Uint8Array): WireRow[] {
  const c = new Cursor(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  const header = c.u32();
  if (header !== PB.HEADER) throw broken(`mismatch header, actual: ${header}, expect: ${PB.HEADER}.`);
  const rows: WireRow[] = [];
  let tag = c.tag();
  while (tag !== 0) {
    const r = readOneRow(c, tag);
    rows.push(r.row);
    tag = r.next;
  }
  return rows;
}

/** Exactly one row, as in every single-row request and each batch entry. */
export function readRow(buf: Uint8Array): WireRow {
  const rows = readRows(buf);
  if (rows.length !== 1) throw paramInvalid('data format is invalid.');
  return rows[0]!;
}

/** A filter's comparison value: "SQLVariant", a type byte and payload with no tags. */
export function readSqlVariant(buf: Uint8Array): WireValue {
  const c = new Cursor(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  const { value } = readValue(c, 0, 'filter');
  if (c.pos !== buf.byteLength) throw paramInvalid('Deserialize relation filter failed.');
  return value;
}
