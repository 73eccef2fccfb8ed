/**
 * GetRange: forward (start <= pk < end) or backward (start >= pk > end). A page ends at `limit`
 * returned rows, or when 5,000 rows or 4 MB have been scanned; nextStartPrimaryKey then names the
 * next row in the range, and is absent only when the range holds no more rows.
 */
import { paramInvalid } from '../errors.js';
import { comparePk } from '../ordering.js';
import { readRow } from '../plainbuffer-reader.js';
import { cellsSizeBound, writeRow, writeRows, type OutRow } from '../plainbuffer-writer.js';
import { parseReadOptions, project, type PbReadFields } from '../reads.js';
import { LIMITS, validatePk } from '../validate.js';
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
  // The service caps a page at 5,000 rows whatever the limit asks.
  const limit = Math.min(hasLimit ? req.limit! : LIMITS.rangeRows, LIMITS.rangeRows);

  const rows: OutRow[] = [];
  let scanned = 0;
  let scannedBytes = 0;
  let next: OutRow['primaryKey'] | undefined;
  for (const stored of table.scan(start, end, backward)) {
    const view = table.view(stored, ctx.now);
    if (!view) continue; // expired by TTL: invisible, not scanned
    const pageFull = rows.length >= limit || scanned >= LIMITS.rangeRows || scannedBytes >= LIMITS.rangeBytes;
    if (pageFull) {
      next = view.primaryKey.map((value, i) => ({ name: meta.primaryKey[i]!.name, value }));
      break;
    }
    scanned++;
    scannedBytes += cellsSizeBound(view.cells);
    const out = project(meta, view, opts);
    if (out) rows.push(out);
  }

  const rowsBytes = rows.length > 0 ? writeRows(rows) : Buffer.alloc(0);
  return {
    body: encodeResponse('GetRangeResponse', {
      consumed: capacity(cuForBytes(scannedBytes), 0),
      rows: rowsBytes,
      ...(next ? { nextStartPrimaryKey: writeRow({ primaryKey: next, cells: [] }) } : {}),
    }),
    table: req.tableName,
    rowsRead: scanned,
    rowsReturned: rows.length,
    rowsWritten: 0,
    changed: false,
  };
};

export const rangeOperations: Record<string, Operation> = { GetRange: getRange };
