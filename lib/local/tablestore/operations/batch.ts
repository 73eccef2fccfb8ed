/**
 * BatchGetRow and BatchWriteRow. Not atomic: each row succeeds or fails on its own (a failed
 * condition or a key that does not match the schema fails only that row), while a malformed
 * request or a broken limit fails the whole request, as in the service.
 */
import { paramInvalid, OtsError } from '../errors.js';
import { applyChange, parseChange, type PbReturnContent, type RowChange } from '../mutations.js';
import { pkIdentity } from '../ordering.js';
import { readRow, type WireRow } from '../plainbuffer-reader.js';
import { writeRow } from '../plainbuffer-writer.js';
import { parseReadOptions, project, type PbReadFields } from '../reads.js';
import type { Table } from '../table.js';
import { LIMITS, rowDataSize, validatePk } from '../validate.js';
import { capacity, cuForBytes, decodeRequest, encodeResponse, type OpContext, type Operation } from './context.js';

type RowResult = { isOk: true; consumed: object; row?: Uint8Array } | { isOk: false; error: { code: string; message: string } };

const failed = (err: OtsError): RowResult => ({ isOk: false, error: { code: err.code, message: err.message } });

/** Resolves each named table once; a name given twice is refused. */
function tablesOf(ctx: OpContext, names: string[]): Table[] {
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw paramInvalid(`Duplicated table name: ${name}.`);
    seen.add(name);
    return ctx.db.table(name);
  });
}

/** Key-schema mismatches are per-row errors; any other problem with a row fails the request. */
function perRow<T>(fn: () => T): T | OtsError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OtsError && err.code === 'OTSInvalidPK') return err;
    throw err;
  }
}

const batchGetRow: Operation = (ctx, body) => {
  const req = decodeRequest<{ tables: Array<PbReadFields & { tableName: string; primaryKey: Uint8Array[] }> }>('BatchGetRowRequest', body);
  const total = req.tables.reduce((n, t) => n + t.primaryKey.length, 0);
  if (total === 0) throw paramInvalid('No row specified in the request of BatchGetRow.');
  if (total > LIMITS.batchGetRows) throw paramInvalid(`Rows count exceeds the upper limit: ${LIMITS.batchGetRows}.`);
  const tables = tablesOf(
    ctx,
    req.tables.map((t) => t.tableName),
  );

  let rowsRead = 0;
  let rowsReturned = 0;
  const out = req.tables.map((t, ti) => {
    const table = tables[ti]!;
    const opts = parseReadOptions(t);
    const keys = t.primaryKey.map((bytes) => perRow(() => validatePk(table.meta, readRow(bytes).primaryKey, 'row')));
    const seen = new Set<string>();
    for (const k of keys) {
      if (k instanceof OtsError) continue;
      const id = pkIdentity(k);
      if (seen.has(id)) throw paramInvalid('Duplicate rows detected in MultiGet.');
      seen.add(id);
    }
    const rows = keys.map((k): RowResult => {
      if (k instanceof OtsError) return failed(k);
      const view = table.get(k, ctx.now);
      if (view) rowsRead++;
      const projected = project(table.meta, view, opts);
      if (projected) rowsReturned++;
      const row = projected ? writeRow(projected) : Buffer.alloc(0);
      return { isOk: true, consumed: capacity(cuForBytes(row.length), 0), row };
    });
    return { tableName: t.tableName, rows };
  });
  return {
    body: encodeResponse('BatchGetRowResponse', { tables: out }),
    table: req.tables.map((t) => t.tableName).join(','),
    rowsRead,
    rowsReturned,
    rowsWritten: 0,
    changed: false,
  };
};

interface PbBatchWriteRow {
  type: number;
  rowChange: Uint8Array;
  condition?: Parameters<typeof parseChange>[3];
  returnContent?: PbReturnContent | null;
}

const KINDS: Record<number, RowChange['kind']> = { 1: 'PUT', 2: 'UPDATE', 3: 'DELETE' };

/**
 * One primary key twice in a table's rows: a whole-request error (behaviour 'refuse'), or
 * allowed without conditions ('allow'; see behaviour.ts for both readings of the service).
 */
function checkRepeatedRows(changes: Array<RowChange | OtsError>, mode: 'refuse' | 'allow'): void {
  const byKey = new Map<string, RowChange[]>();
  for (const c of changes) {
    if (c instanceof OtsError) continue;
    const id = pkIdentity(c.primaryKey);
    byKey.set(id, [...(byKey.get(id) ?? []), c]);
  }
  for (const group of byKey.values()) {
    if (group.length < 2) continue;
    // The only wording documented for it (FAQ "OTSParameterInvalid … BatchWriteRow").
    if (mode === 'refuse') throw paramInvalid('The input parameter is invalid.');
    if (group.some((c) => c.condition.rowExistence !== 'IGNORE')) {
      throw paramInvalid('Repeated rows do not support row exist expectation check in BatchModify.');
    }
    if (group.some((c) => c.condition.columnCondition)) throw paramInvalid('Repeated rows do not support row condition check in BatchModify.');
  }
}

const batchWriteRow: Operation = (ctx, body) => {
  const req = decodeRequest<{ tables: Array<{ tableName: string; rows: PbBatchWriteRow[] }> }>('BatchWriteRowRequest', body);
  if (req.tables.length === 0) throw paramInvalid('No row is specified in BatchWriteRow.');
  for (const t of req.tables) if (t.rows.length === 0) throw paramInvalid(`No operation is specified for table:${t.tableName}.`);
  const total = req.tables.reduce((n, t) => n + t.rows.length, 0);
  if (total > LIMITS.batchWriteRows) throw paramInvalid(`Rows count exceeds the upper limit: ${LIMITS.batchWriteRows}.`);
  const tables = tablesOf(
    ctx,
    req.tables.map((t) => t.tableName),
  );

  // Parse and check every row before writing any.
  let dataSize = 0;
  const parsed = req.tables.map((t, ti) => {
    const table = tables[ti]!;
    const changes = t.rows.map((r) =>
      perRow(() => {
        const kind = KINDS[r.type];
        if (!kind) throw paramInvalid('The type of row in batch write operation is invalid.');
        const wire: WireRow = readRow(r.rowChange);
        const change = parseChange(table.meta, kind, wire, r.condition, r.returnContent, ctx.now);
        dataSize += rowDataSize(change.primaryKey, table.meta, wire.cells);
        return change;
      }),
    );
    checkRepeatedRows(changes, ctx.behaviour.repeatedRowsInBatchWrite);
    return changes;
  });
  if (dataSize > LIMITS.batchWriteBytes) {
    throw paramInvalid(`The total data size of BatchWriteRow request exceeds the limit, limit size: ${LIMITS.batchWriteBytes}, data size: ${dataSize}.`);
  }

  let rowsWritten = 0;
  const out = req.tables.map((t, ti) => {
    const table = tables[ti]!;
    const rows = parsed[ti]!.map((change): RowResult => {
      if (change instanceof OtsError) return failed(change);
      try {
        const returned = applyChange(table, change, ctx.now);
        rowsWritten++;
        return { isOk: true, consumed: capacity(0, 1), ...(returned ? { row: writeRow(returned) } : {}) };
      } catch (err) {
        if (err instanceof OtsError) return failed(err);
        throw err;
      }
    });
    return { tableName: t.tableName, rows };
  });
  return {
    body: encodeResponse('BatchWriteRowResponse', { tables: out }),
    table: req.tables.map((t) => t.tableName).join(','),
    rowsRead: 0,
    rowsReturned: 0,
    rowsWritten,
    changed: rowsWritten > 0,
  };
};

export const batchOperations: Record<string, Operation> = { BatchGetRow: batchGetRow, BatchWriteRow: batchWriteRow };
