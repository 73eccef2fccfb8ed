/**
 * GetRange: forward (start <= pk < end) or backward (start >= pk > end). A page ends at `limit`
 * returned rows, or when 5,000 rows or 4 MB have been scanned (behaviour.rangePageRows/Bytes);
 * nextStartPrimaryKey then names the next row in the range, and is absent when the range holds
 * no more rows — unless behaviour.rangeNextKeyAtEnd is 'send' (a key past the last row instead).
 */
import { paramInvalid } from '../errors.js';
import { comparePk } from '../ordering.js';
import { INT64_MAX, type PkBound, type PkValue } from '../values.js';
import { readRow } from '../plainbuffer-reader.js';
import { cellsSizeBound, writeRow, writeRows, type OutRow } from '../plainbuffer-writer.js';
import { parseReadOptions, project, type PbReadFields } from '../reads.js';
import { validatePk } from '../validate.js';
import { capacity, cuForBytes, decodeRequest, encodeResponse, type Operation } from './context.js';

interface PbGetRange extends PbReadFields {
  tableName: string;
  direction: number;
  limit?: number;
  inclusiveStartPrimaryKey: Uint8Array;
  exclusiveEndPrimaryKey: Uint8Array;
}

const getRange: Operation = (ctx, body) => {
  const req = decodeRequest<PbGetRange>('GetRangeRequest', body);
  const table = ctx.db.table(req.tableName);
  const meta = table.meta;
  const start = validatePk(meta, readRow(req.inclusiveStartPrimaryKey).primaryKey, 'range');
  const end = validatePk(meta, readRow(req.exclusiveEndPrimaryKey).primaryKey, 'range');
  const opts = parseReadOptions(req);
  const backward = req.direction === 1;
  if (!backward && comparePk(start, end) >= 0) throw paramInvalid('Begin key must less than end key in FORWARD');
  if (backward && comparePk(start, end) <= 0) throw paramInvalid('Begin key must more than end key in BACKWARD');
  const hasLimit = Object.hasOwn(req, 'limit');
  if (hasLimit && (req.limit ?? 0) <= 0) throw paramInvalid('The limit must be greater than 0.');
  const { rangePageRows, rangePageBytes, rangeNextKeyAtEnd } = ctx.behaviour;
  // The service caps a page at 5,000 rows whatever the limit asks.
  const limit = Math.min(hasLimit ? req.limit! : rangePageRows, rangePageRows);

  const rows: OutRow[] = [];
  let scanned = 0;
  let scannedBytes = 0;
  let last: PkValue[] | undefined;
  let next: PkValue[] | undefined;
  const pageFull = () => rows.length >= limit || scanned >= rangePageRows || scannedBytes >= rangePageBytes;
  for (const stored of table.scan(start, end, backward)) {
    const view = table.view(stored, ctx.now);
    if (!view) continue; // expired by TTL: invisible, not scanned
    if (pageFull()) {
      next = view.primaryKey;
      break;
    }
    scanned++;
    scannedBytes += cellsSizeBound(view.cells);
    last = view.primaryKey;
    const out = project(meta, view, opts);
    if (out) rows.push(out);
  }
  if (!next && last && !backward && rangeNextKeyAtEnd === 'send' && pageFull()) next = successorWithin(last, end);

  const rowsBytes = rows.length > 0 ? writeRows(rows) : Buffer.alloc(0);
  return {
    body: encodeResponse('GetRangeResponse', {
      consumed: capacity(cuForBytes(scannedBytes), 0),
      rows: rowsBytes,
      ...(next ? { nextStartPrimaryKey: writeRow({ primaryKey: next.map((value, i) => ({ name: meta.primaryKey[i]!.name, value })), cells: [] }) } : {}),
    }),
    table: req.tableName,
    rowsRead: scanned,
    rowsReturned: rows.length,
    rowsWritten: 0,
    changed: false,
  };
};

/** The smallest key after `pk` (its last column's successor), if it is still before `end`. */
function successorWithin(pk: PkValue[], end: PkBound[]): PkValue[] | undefined {
  const lastCol = pk.at(-1)!;
  const succ: PkValue =
    lastCol.type === 'INTEGER'
      ? { type: 'INTEGER', value: lastCol.value + 1n }
      : lastCol.type === 'STRING'
        ? { type: 'STRING', value: `${lastCol.value}\u0000` }
        : { type: 'BINARY', value: Buffer.concat([lastCol.value, Buffer.alloc(1)]) };
  const key = [...pk.slice(0, -1), succ];
  if (succ.type === 'INTEGER' && succ.value > INT64_MAX) return undefined;
  return comparePk(key, end) < 0 ? key : undefined;
}

export const rangeOperations: Record<string, Operation> = { GetRange: getRange };
