/** GetRow, PutRow, UpdateRow, DeleteRow. */
import { applyChange, parseChange, type PbReturnContent, type RowChange } from '../mutations.js';
import { readRow } from '../plainbuffer-reader.js';
import { rowSizeBound, writeRow } from '../plainbuffer-writer.js';
import { parseReadOptions, project, type PbReadFields } from '../reads.js';
import { validatePk } from '../validate.js';
import { capacity, cuForBytes, decodeRequest, encodeResponse, type Operation } from './context.js';

const getRow: Operation = (ctx, body) => {
  const req = decodeRequest<PbReadFields & { tableName: string; primaryKey: Uint8Array }>('GetRowRequest', body);
  const table = ctx.db.table(req.tableName);
  const pk = validatePk(table.meta, readRow(req.primaryKey).primaryKey, 'row');
  const opts = parseReadOptions(req);
  const view = table.get(pk, ctx.now);
  const out = project(table.meta, view, opts);
  const row = out ? writeRow(out) : Buffer.alloc(0);
  return {
    body: encodeResponse('GetRowResponse', { consumed: capacity(cuForBytes(row.length), 0), row }),
    table: req.tableName,
    rowsRead: view ? 1 : 0,
    rowsReturned: out ? 1 : 0,
    rowsWritten: 0,
    changed: false,
  };
};

interface PbWriteRequest {
  tableName: string;
  condition?: Parameters<typeof parseChange>[3];
  returnContent?: PbReturnContent | null;
}

/** PutRow, UpdateRow and DeleteRow differ only in the request field holding the row. */
function writeOperation(requestType: string, responseType: string, rowField: string, kind: RowChange['kind']): Operation {
  return (ctx, body) => {
    const req = decodeRequest<PbWriteRequest & Record<string, unknown>>(requestType, body);
    const table = ctx.db.table(req.tableName);
    const wire = readRow(req[rowField] as Uint8Array);
    const change = parseChange(table.meta, kind, wire, req.condition, req.returnContent, ctx.now);
    const returned = applyChange(table, change, ctx.now);
    const row = returned ? writeRow(returned) : undefined;
    return {
      body: encodeResponse(responseType, {
        consumed: capacity(0, cuForBytes(returned ? rowSizeBound(returned) : 0)),
        ...(row ? { row } : {}),
      }),
      table: req.tableName,
      rowsRead: 0,
      rowsReturned: 0,
      rowsWritten: 1,
      changed: true,
    };
  };
}

export const rowOperations: Record<string, Operation> = {
  GetRow: getRow,
  PutRow: writeOperation('PutRowRequest', 'PutRowResponse', 'row', 'PUT'),
  UpdateRow: writeOperation('UpdateRowRequest', 'UpdateRowResponse', 'rowChange', 'UPDATE'),
  DeleteRow: writeOperation('DeleteRowRequest', 'DeleteRowResponse', 'primaryKey', 'DELETE'),
};
