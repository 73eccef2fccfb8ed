/**
 * Row writes (put, update, delete) shared by PutRow/UpdateRow/DeleteRow and BatchWriteRow.
 * parseChange validates everything first; applyChange then checks the condition and writes with
 * no await in between, so concurrent conditional writes to one row can never both succeed.
 */
import { checkCondition, decodeCondition, type Condition } from './conditions.js';
import { paramInvalid } from './errors.js';
import type { WireRow } from './plainbuffer-reader.js';
import type { OutRow } from './plainbuffer-writer.js';
import type { Cell, Table, TableMeta } from './table.js';
import { validatePk, validatePutCells, validateUpdateCells, type PutCell, type UpdateCell } from './validate.js';
import { INT64_MAX, INT64_MIN, type PkValue } from './values.js';

export interface ReturnSpec {
  type: 'NONE' | 'PK' | 'AFTER_MODIFY';
  columns: string[];
}

export type RowChange = { primaryKey: PkValue[]; condition: Condition; returnContent: ReturnSpec } & (
  | { kind: 'PUT'; cells: PutCell[] }
  | { kind: 'UPDATE'; cells: UpdateCell[] }
  | { kind: 'DELETE' }
);

export interface PbReturnContent {
  returnType?: number;
  returnColumnNames?: string[];
}

export function parseReturnContent(pb: PbReturnContent | null | undefined): ReturnSpec {
  const type = pb?.returnType ?? 0;
  const columns = pb?.returnColumnNames ?? [];
  if (type === 0) return { type: 'NONE', columns };
  if (type === 1) return { type: 'PK', columns };
  if (type === 2) return { type: 'AFTER_MODIFY', columns };
  throw paramInvalid(`Invalid return type: ${type}.`);
}

/** Validates a decoded row change against the table; throws OTSInvalidPK / OTSParameterInvalid. */
export function parseChange(
  meta: TableMeta,
  kind: RowChange['kind'],
  row: WireRow,
  condition: Parameters<typeof decodeCondition>[0] | null | undefined,
  returnContent: PbReturnContent | null | undefined,
  now: number,
): RowChange {
  if (!condition) throw paramInvalid('Condition is missing.');
  const primaryKey = validatePk(meta, row.primaryKey, 'row');
  const base = { primaryKey, condition: decodeCondition(condition), returnContent: parseReturnContent(returnContent) };
  switch (kind) {
    case 'PUT':
      if (row.deleteMarker) throw paramInvalid('Invalid request of put/update row: unexpected RowDeleteMarker in request.');
      return { ...base, kind, cells: validatePutCells(meta, row.cells, now) };
    case 'UPDATE':
      if (row.deleteMarker) throw paramInvalid('Invalid request of put/update row: unexpected RowDeleteMarker in request.');
      if (!meta.allowUpdate) throw paramInvalid('UpdateRow is not allowed on a table whose allow_update is false.');
      return { ...base, kind, cells: validateUpdateCells(meta, row.cells, now) };
    case 'DELETE':
      if (!row.deleteMarker) throw paramInvalid('Invalid request of delete row: missing RowDeleteMarker in request.');
      if (row.cells.length > 0) throw paramInvalid('Invalid delete row request: unexpected cells in request.');
      return { ...base, kind };
  }
}

/** Keeps the newer version when a write carries an older explicit timestamp (max versions 1). */
function putCell(cells: Map<string, Cell>, name: string, cell: Cell): void {
  const existing = cells.get(name);
  if (!existing || cell.ts >= existing.ts) cells.set(name, cell);
}

function applyUpdate(cells: Map<string, Cell>, ops: UpdateCell[], now: number): void {
  for (const op of ops) {
    switch (op.op) {
      case 'PUT':
        putCell(cells, op.name, { value: op.value, ts: op.ts });
        break;
      case 'DELETE_ALL':
        cells.delete(op.name);
        break;
      case 'DELETE_ONE':
        if (cells.get(op.name)?.ts === op.ts) cells.delete(op.name);
        break;
      case 'INCREMENT': {
        const existing = cells.get(op.name);
        if (existing && existing.value.type !== 'INTEGER') throw paramInvalid(`The type of column ${op.name} is not integer, it can not be incremented.`);
        const sum = (existing?.value.type === 'INTEGER' ? existing.value.value : 0n) + op.by;
        if (sum > INT64_MAX || sum < INT64_MIN) throw paramInvalid(`Integer overflow when incrementing column ${op.name}.`);
        cells.set(op.name, { value: { type: 'INTEGER', value: sum }, ts: now });
        break;
      }
    }
  }
}

/**
 * Checks the condition against the row as it is now and writes. Synchronous by design.
 * Returns the row to send back (returnContent), if any.
 */
export function applyChange(table: Table, change: RowChange, now: number): OutRow | undefined {
  const stored = table.getStored(change.primaryKey);
  const current = stored ? table.view(stored, now) : undefined;
  checkCondition(change.condition, current);

  let after: Map<string, Cell> = new Map();
  switch (change.kind) {
    case 'PUT':
      for (const c of change.cells) putCell(after, c.name, { value: c.value, ts: c.ts });
      table.setStored({ primaryKey: change.primaryKey, cells: after, putAt: now });
      break;
    case 'UPDATE': {
      after = new Map(current?.cells ?? []);
      applyUpdate(after, change.cells, now); // may throw before anything is stored
      const putAt = current ? stored?.putAt : undefined; // an expired row starts afresh
      table.setStored({ primaryKey: change.primaryKey, cells: after, ...(putAt !== undefined ? { putAt } : {}) });
      break;
    }
    case 'DELETE':
      table.remove(change.primaryKey);
      break;
  }

  const rc = change.returnContent;
  if (rc.type === 'NONE') return undefined;
  const primaryKey = change.primaryKey.map((value, i) => ({ name: table.meta.primaryKey[i]!.name, value }));
  if (rc.type === 'PK' || change.kind === 'DELETE') return { primaryKey, cells: [] };
  // AfterModify: the named columns, or by default those the write set.
  const names = rc.columns.length > 0 ? rc.columns : change.cells.filter((c) => !('op' in c) || c.op === 'PUT' || c.op === 'INCREMENT').map((c) => c.name);
  const cells = [...new Set(names)].flatMap((name) => {
    const cell = after.get(name);
    return cell ? [{ name, value: cell.value, ts: cell.ts }] : [];
  });
  return { primaryKey, cells };
}
