/** CreateTable, DescribeTable, ListTable, DeleteTable, UpdateTable. */
import { checkTableName } from '../database.js';
import { OtsError, paramInvalid, tableExists } from '../errors.js';
import { Table, type TableMeta } from '../table.js';
import { LIMITS, checkColumnName } from '../validate.js';
import type { PkType } from '../values.js';
import { decodeRequest, encodeResponse, type Operation, type OpResult } from './context.js';

const PK_TYPES: Record<number, PkType> = { 1: 'INTEGER', 2: 'STRING', 3: 'BINARY' };
const PK_TYPE_CODES: Record<PkType, number> = { INTEGER: 1, STRING: 2, BINARY: 3 };
const DEFINED_COLUMN_TYPES = new Set([1, 2, 3, 4, 7]);
const MAX_TABLES = 64;
const DEFAULT_DEVIATION_SECONDS = 86400;

interface PbTableOptions {
  timeToLive?: number;
  maxVersions?: number;
  deviationCellVersionInSec?: unknown;
  allowUpdate?: boolean;
}

interface PbCapacity {
  capacityUnit: { read?: number; write?: number };
}

const has = (m: object | null | undefined, field: string): boolean => !!m && Object.hasOwn(m, field);

const meta = (table: string, rowsWritten = 0): Omit<OpResult, 'body'> => ({
  table,
  rowsRead: 0,
  rowsReturned: 0,
  rowsWritten,
  changed: false,
});

function checkTimeToLive(ttl: number): void {
  if (ttl === 0 || ttl < -1) throw paramInvalid('TimeToLive cannot be 0 or less than -1.');
  if (ttl > 0 && ttl < LIMITS.minTimeToLive) {
    throw paramInvalid(`TimeToLive must be -1 or at least ${LIMITS.minTimeToLive} seconds, got ${ttl}.`);
  }
}

function checkMaxVersions(v: number): void {
  if (v <= 0) throw paramInvalid('The maximum versions cannot be less than or equal to 0.');
}

function checkDeviation(v: number): number {
  if (!Number.isFinite(v) || v < 0) throw paramInvalid('The maximum deviation must be in range [0, INT64_MAX/1000000].');
  return v;
}

function checkCapacity(cu: PbCapacity['capacityUnit']): { read: number; write: number } {
  const read = cu.read ?? 0;
  const write = cu.write ?? 0;
  if (read < 0 || write < 0) throw paramInvalid(`Invalid Capacity Unit:${Math.min(read, write)} . Capacity Unit must be nonnegative.`);
  return { read, write };
}

const createTable: Operation = (ctx, body) => {
  const req = decodeRequest<{
    tableMeta: { tableName: string; primaryKey: Array<{ name: string; type: number; option?: number }>; definedColumn: Array<{ name: string; type: number }> };
    reservedThroughput: PbCapacity;
    tableOptions?: PbTableOptions | null;
    indexMetas: unknown[];
  }>('CreateTableRequest', body);
  const name = req.tableMeta.tableName;
  checkTableName(name);

  const pks = req.tableMeta.primaryKey;
  if (pks.length < 1 || pks.length > LIMITS.pkColumns) {
    throw paramInvalid(`The number of primary key columns must be in range: [1, ${LIMITS.pkColumns}].`);
  }
  const seen = new Set<string>();
  const primaryKey = pks.map((pk) => {
    checkColumnName(pk.name);
    if (seen.has(pk.name)) throw paramInvalid(`Duplicated primary key name: '${pk.name}'.`);
    seen.add(pk.name);
    const type = PK_TYPES[pk.type];
    if (!type) throw paramInvalid('Invalid column type, only STRING,INTEGER,BINARY is allowed.');
    // Deviation: auto-increment keys are not emulated (the pipeline does not use them).
    if (has(pk, 'option')) throw paramInvalid('AUTO_INCREMENT primary keys are not supported by the sketchflow Tablestore emulator.');
    return { name: pk.name, type };
  });
  const definedColumns = req.tableMeta.definedColumn.map((c) => {
    checkColumnName(c.name);
    if (!DEFINED_COLUMN_TYPES.has(c.type)) throw paramInvalid(`Invalid column type: ${c.type}.`);
    return { name: c.name, type: c.type };
  });
  if (definedColumns.length > 32) throw paramInvalid('The number of defined columns must be in range: [0, 32].');
  // Deviation: secondary indexes are refused rather than silently left unmaintained.
  if (req.indexMetas.length > 0) throw paramInvalid('Secondary indexes are not supported by the sketchflow Tablestore emulator.');

  const opts = req.tableOptions;
  if (!opts || !has(opts, 'timeToLive')) throw paramInvalid('Time-to-live is missing while creating table.');
  if (!has(opts, 'maxVersions')) throw paramInvalid('MaxVersions is missing while creating table.');
  const timeToLive = opts.timeToLive!;
  const maxVersions = opts.maxVersions!;
  checkTimeToLive(timeToLive);
  checkMaxVersions(maxVersions);
  const maxTimeDeviation = has(opts, 'deviationCellVersionInSec') ? checkDeviation(Number(String(opts.deviationCellVersionInSec))) : DEFAULT_DEVIATION_SECONDS;
  const cu = checkCapacity(req.reservedThroughput.capacityUnit);

  if (ctx.db.tables.has(name)) throw tableExists();
  if (ctx.db.tables.size >= MAX_TABLES) throw new OtsError('OTSQuotaExhausted', 'Number of tables exceeded the quota.');

  const tableMeta: TableMeta = {
    name,
    primaryKey,
    definedColumns,
    timeToLive,
    maxVersions,
    maxTimeDeviation,
    allowUpdate: has(opts, 'allowUpdate') ? opts.allowUpdate !== false : true,
    reservedRead: cu.read,
    reservedWrite: cu.write,
    createdAt: Math.floor(ctx.now / 1000),
  };
  ctx.db.tables.set(name, new Table(tableMeta));
  return { body: encodeResponse('CreateTableResponse', {}), ...meta(name), changed: true };
};

function tableOptionsOf(m: TableMeta): object {
  return {
    timeToLive: m.timeToLive,
    maxVersions: m.maxVersions,
    deviationCellVersionInSec: m.maxTimeDeviation,
    allowUpdate: m.allowUpdate,
  };
}

function throughputOf(m: TableMeta): object {
  return { capacityUnit: { read: m.reservedRead, write: m.reservedWrite }, lastIncreaseTime: m.createdAt };
}

const describeTable: Operation = (ctx, body) => {
  const req = decodeRequest<{ tableName: string }>('DescribeTableRequest', body);
  const m = ctx.db.table(req.tableName).meta;
  return {
    body: encodeResponse('DescribeTableResponse', {
      tableMeta: {
        tableName: m.name,
        primaryKey: m.primaryKey.map((pk) => ({ name: pk.name, type: PK_TYPE_CODES[pk.type] })),
        definedColumn: m.definedColumns,
      },
      reservedThroughputDetails: throughputOf(m),
      tableOptions: tableOptionsOf(m),
      tableStatus: 1, // ACTIVE: tables are usable at once (the service takes seconds to load them)
      indexMetas: [],
    }),
    ...meta(m.name),
  };
};

const listTable: Operation = (ctx) => ({
  body: encodeResponse('ListTableResponse', { tableNames: [...ctx.db.tables.keys()].sort() }),
  rowsRead: 0,
  rowsReturned: 0,
  rowsWritten: 0,
  changed: false,
});

const deleteTable: Operation = (ctx, body) => {
  const req = decodeRequest<{ tableName: string }>('DeleteTableRequest', body);
  ctx.db.table(req.tableName);
  ctx.db.tables.delete(req.tableName);
  return { body: encodeResponse('DeleteTableResponse', {}), ...meta(req.tableName), changed: true };
};

const updateTable: Operation = (ctx, body) => {
  const req = decodeRequest<{ tableName: string; reservedThroughput?: PbCapacity | null; tableOptions?: PbTableOptions | null }>(
    'UpdateTableRequest',
    body,
  );
  const table = ctx.db.table(req.tableName);
  const next = { ...table.meta };
  const opts = req.tableOptions;
  const optionFields = ['timeToLive', 'maxVersions', 'deviationCellVersionInSec', 'allowUpdate'].filter((f) => has(opts, f));
  if (opts && optionFields.length === 0 && !req.reservedThroughput) throw paramInvalid('No parameter is specified in table options.');
  if (opts && has(opts, 'timeToLive')) {
    checkTimeToLive(opts.timeToLive!);
    next.timeToLive = opts.timeToLive!;
  }
  if (opts && has(opts, 'maxVersions')) {
    checkMaxVersions(opts.maxVersions!);
    next.maxVersions = opts.maxVersions!;
  }
  if (opts && has(opts, 'deviationCellVersionInSec')) next.maxTimeDeviation = checkDeviation(Number(String(opts.deviationCellVersionInSec)));
  if (opts && has(opts, 'allowUpdate')) next.allowUpdate = opts.allowUpdate !== false;
  if (req.reservedThroughput) {
    const cu = checkCapacity(req.reservedThroughput.capacityUnit);
    next.reservedRead = cu.read;
    next.reservedWrite = cu.write;
  }
  table.meta = next;
  return {
    body: encodeResponse('UpdateTableResponse', { reservedThroughputDetails: throughputOf(next), tableOptions: tableOptionsOf(next) }),
    ...meta(next.name),
    changed: true,
  };
};

export const tableOperations: Record<string, Operation> = {
  CreateTable: createTable,
  DescribeTable: describeTable,
  ListTable: listTable,
  DeleteTable: deleteTable,
  UpdateTable: updateTable,
};
