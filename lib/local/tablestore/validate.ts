/**
 * Checks of keys and cells against the table schema and the service limits, with the service's
 * error codes and messages (Tablestore "Error codes" reference, SDK function tests).
 * A key that does not match the schema is OTSInvalidPK; everything else is OTSParameterInvalid.
 */
import { invalidPk, paramInvalid } from './errors.js';
import type { CellOp, WireCell, WireValue } from './plainbuffer-reader.js';
import type { TableMeta } from './table.js';
import { WIRE_TYPE_NAME, valueSize, type PkBound, type PkValue, type Value } from './values.js';

export const LIMITS = {
  pkColumns: 4,
  pkValueBytes: 1024,
  attrValueBytes: 2 * 1024 * 1024,
  columnsPerWrite: 1024,
  batchWriteRows: 200,
  batchWriteBytes: 4 * 1024 * 1024,
  batchGetRows: 100,
  rangeRows: 5000,
  rangeBytes: 4 * 1024 * 1024,
  filterConditions: 10,
  minTimeToLive: 86400,
} as const;

/**
 * Column names (primary key and attribute columns alike): letters, digits and underscores, not
 * starting with a digit, 1–255 bytes (Tablestore "Naming conventions and data types").
 */
export const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

export function checkColumnName(name: string): void {
  if (name.length === 0) throw paramInvalid('invalid name of column: empty name.');
  if (!COLUMN_NAME.test(name)) throw paramInvalid(`Invalid column name: '${name}'.`);
}

const typeName = (v: WireValue): string => WIRE_TYPE_NAME[v.type] ?? v.type;

/**
 * A key as a row operation or a range bound gives it. `range` allows INF_MIN/INF_MAX, which a row
 * operation refuses. Columns are checked in schema order: name, then type, then the count.
 */
export function validatePk(meta: TableMeta, cells: WireCell[], mode: 'row'): PkValue[];
export function validatePk(meta: TableMeta, cells: WireCell[], mode: 'range'): PkBound[];
export function validatePk(meta: TableMeta, cells: WireCell[], mode: 'row' | 'range'): PkBound[] {
  const out: PkBound[] = [];
  const n = Math.min(cells.length, meta.primaryKey.length);
  for (let i = 0; i < n; i++) {
    const cell = cells[i]!;
    const schema = meta.primaryKey[i]!;
    if (cell.timestamp !== undefined) throw paramInvalid(`Timestamp cannot be given for primary key name:${cell.name}.`);
    if (cell.op !== undefined) throw paramInvalid(`OpType cannot be given for primary key name :${cell.name}.`);
    const v = cell.value;
    if (!v) throw paramInvalid(`No value is given for primary key name:${cell.name}.`);
    if (cell.name !== schema.name) throw invalidPk(`Validate PK name fail. Input: ${cell.name}, Meta: ${schema.name}.`);
    if (v.type === 'INF_MIN' || v.type === 'INF_MAX') {
      if (mode === 'row') throw paramInvalid(`${typeName(v)} is an invalid type for the primary key.`);
      out.push({ type: v.type });
      continue;
    }
    if (v.type === 'AUTO_INCREMENT' || v.type === 'NULL' || v.type === 'DOUBLE' || v.type === 'BOOLEAN') {
      throw paramInvalid(`${typeName(v)} is an invalid type for the primary key.`);
    }
    if (v.type !== schema.type) {
      throw invalidPk(`Validate PK type fail. Input: ${typeName(v)}, Meta: ${WIRE_TYPE_NAME[schema.type]}.`);
    }
    const size = valueSize(v);
    if (size > LIMITS.pkValueBytes) {
      throw paramInvalid(
        `The length of primary key column: '${cell.name}' exceeded the MaxLength:${LIMITS.pkValueBytes} with CurrentLength:${size}.`,
      );
    }
    out.push(v);
  }
  if (cells.length !== meta.primaryKey.length) {
    throw invalidPk(`Validate PK size fail. Input: ${cells.length}, Meta: ${meta.primaryKey.length}.`);
  }
  return out;
}

function checkAttributeValue(name: string, v: WireValue): Value {
  if (v.type === 'INF_MIN' || v.type === 'INF_MAX' || v.type === 'AUTO_INCREMENT' || v.type === 'NULL') {
    throw paramInvalid(`${typeName(v)} is an invalid type for the attribute column.`);
  }
  if (v.type === 'DOUBLE' && Number.isNaN(v.value)) throw paramInvalid("NaN can't be set to double value.");
  if (v.type === 'DOUBLE' && !Number.isFinite(v.value)) throw paramInvalid("Infinity can't be set to double value.");
  const size = valueSize(v);
  if (size > LIMITS.attrValueBytes) {
    throw paramInvalid(`The length of attribute column: '${name}' exceeded the MaxLength:${LIMITS.attrValueBytes} with CurrentLength:${size}.`);
  }
  return v;
}

function checkAttributeName(meta: TableMeta, name: string): void {
  checkColumnName(name);
  if (meta.primaryKey.some((pk) => pk.name === name)) {
    throw paramInvalid(`Duplicated attribute column name with primary key column: ${name}.`);
  }
}

/** A written cell version must be near the write time (max time deviation) and within the TTL. */
function cellTimestamp(meta: TableMeta, cell: WireCell, now: number): number {
  if (cell.timestamp === undefined) return now;
  const ts = cell.timestamp;
  if (ts < 0n || ts >= 9223372036854775807n / 1000n) throw paramInvalid('Timestamp must be in range [0, INT64_MAX/1000).');
  const t = Number(ts);
  const deviation = meta.maxTimeDeviation * 1000;
  const lowest = meta.timeToLive > 0 ? Math.max(now - deviation, now - meta.timeToLive * 1000) : now - deviation;
  if (t < lowest || t >= now + deviation) throw paramInvalid(`Invalid timestamp. Cell:${cell.name}.`);
  return t;
}

function checkColumnCount(count: number): void {
  if (count > LIMITS.columnsPerWrite) {
    throw paramInvalid(`The number of attribute columns exceeds the limit, limit count: ${LIMITS.columnsPerWrite}, column count: ${count}.`);
  }
}

export interface PutCell {
  name: string;
  value: Value;
  ts: number;
}

export function validatePutCells(meta: TableMeta, cells: WireCell[], now: number): PutCell[] {
  checkColumnCount(cells.length);
  return cells.map((cell) => {
    checkAttributeName(meta, cell.name);
    if (cell.op !== undefined) throw paramInvalid(`OpType cannot be given for column name:${cell.name} in PutRow.`);
    if (!cell.value) throw paramInvalid('Invalid request of put row: find cells without values.');
    return { name: cell.name, value: checkAttributeValue(cell.name, cell.value), ts: cellTimestamp(meta, cell, now) };
  });
}

export type UpdateCell =
  | { op: 'PUT'; name: string; value: Value; ts: number }
  | { op: 'INCREMENT'; name: string; by: bigint }
  | { op: 'DELETE_ALL'; name: string }
  | { op: 'DELETE_ONE'; name: string; ts: number };

export function validateUpdateCells(meta: TableMeta, cells: WireCell[], now: number): UpdateCell[] {
  if (cells.length === 0) throw paramInvalid('Invalid update row request: missing cells in request.');
  checkColumnCount(cells.length);
  return cells.map((cell): UpdateCell => {
    checkAttributeName(meta, cell.name);
    const op: CellOp | 'PUT' = cell.op ?? 'PUT';
    switch (op) {
      case 'PUT':
        if (!cell.value) throw paramInvalid(`Invalid cell: ${cell.name}. Reason: missing value.`);
        return { op, name: cell.name, value: checkAttributeValue(cell.name, cell.value), ts: cellTimestamp(meta, cell, now) };
      case 'INCREMENT': {
        if (!cell.value) throw paramInvalid(`Invalid cell: ${cell.name}. Reason: missing value.`);
        const v = checkAttributeValue(cell.name, cell.value);
        if (v.type !== 'INTEGER') throw paramInvalid(`Only integer column can be incremented, column: ${cell.name}.`);
        if (cell.timestamp !== undefined) throw paramInvalid(`Timestamp cannot be given for increment column: ${cell.name}.`);
        return { op, name: cell.name, by: v.value };
      }
      case 'DELETE_ALL':
        if (cell.value) throw paramInvalid('Column value cannot be given when type is DELETE_ONE_VERSION,DELETE_ALL_VERSION.');
        if (cell.timestamp !== undefined) throw paramInvalid('Timestamp cannot be given when type is DELETE_ALL_VERSION.');
        return { op, name: cell.name };
      case 'DELETE_ONE':
        if (cell.value) throw paramInvalid('Column value cannot be given when type is DELETE_ONE_VERSION,DELETE_ALL_VERSION.');
        if (cell.timestamp === undefined) throw paramInvalid('Timestamp must be given when type is DELETE_ONE_VERSION.');
        return { op, name: cell.name, ts: Number(cell.timestamp) };
    }
  });
}

/** Bytes a written row counts towards the BatchWriteRow 4 MB limit: names plus values. */
export function rowDataSize(pk: PkValue[], meta: TableMeta, cells: WireCell[]): number {
  let size = 0;
  pk.forEach((v, i) => (size += Buffer.byteLength(meta.primaryKey[i]!.name) + valueSize(v)));
  for (const cell of cells) {
    size += Buffer.byteLength(cell.name);
    const v = cell.value;
    if (v && v.type !== 'INF_MIN' && v.type !== 'INF_MAX' && v.type !== 'AUTO_INCREMENT' && v.type !== 'NULL') size += valueSize(v);
  }
  return size;
}
