/**
 * What a read returns of a row: columns to get, time range, column range, filter and column
 * pagination, shared by GetRow, BatchGetRow and GetRange.
 */
import { compareUtf8 } from '../utf8.js';
import { decodeFilter, evaluate, type Filter } from './conditions.js';
import { paramInvalid } from './errors.js';
import type { OutRow } from './plainbuffer-writer.js';
import type { Cell, RowView, TableMeta } from './table.js';
import { checkColumnName } from './validate.js';

export interface ReadOptions {
  columnsToGet: string[];
  filter?: Filter;
  /** [start, end) in ms, or one exact version. */
  timeRange?: { start: number; end: number } | { specific: number };
  startColumn?: string;
  endColumn?: string;
}

/** The read fields GetRowRequest, TableInBatchGetRowRequest and GetRangeRequest share. */
export interface PbReadFields {
  columnsToGet: string[];
  maxVersions?: number;
  timeRange?: { startTime?: unknown; endTime?: unknown; specificTime?: unknown } | null;
  filter?: Uint8Array;
  startColumn?: string;
  endColumn?: string;
}

const int64 = (v: unknown): number => Number(String(v));

export function parseReadOptions(pb: PbReadFields): ReadOptions {
  const opts: ReadOptions = { columnsToGet: pb.columnsToGet ?? [] };
  for (const name of opts.columnsToGet) checkColumnName(name);
  const tr = pb.timeRange;
  if (!Object.hasOwn(pb, 'maxVersions') && !tr) throw paramInvalid('No version condition is specified while querying row.');
  if (Object.hasOwn(pb, 'maxVersions') && (pb.maxVersions ?? 0) <= 0) {
    throw paramInvalid(`Invalid max versions: ${pb.maxVersions} . Reason: Max versions must be positive.`);
  }
  if (tr) {
    if (Object.hasOwn(tr, 'specificTime')) {
      const specific = int64(tr.specificTime);
      if (specific < 0) throw paramInvalid('Specific timestamp cannot be less than 0.');
      opts.timeRange = { specific };
    } else if (Object.hasOwn(tr, 'startTime') && Object.hasOwn(tr, 'endTime')) {
      opts.timeRange = { start: int64(tr.startTime), end: int64(tr.endTime) };
    } else {
      throw paramInvalid('Start and end time must be given at the same time.');
    }
  }
  if (pb.filter && pb.filter.length > 0) opts.filter = decodeFilter(pb.filter);
  if (pb.startColumn) opts.startColumn = pb.startColumn;
  if (pb.endColumn) opts.endColumn = pb.endColumn;
  return opts;
}

function inTimeRange(cell: Cell, tr: ReadOptions['timeRange']): boolean {
  if (!tr) return true;
  return 'specific' in tr ? cell.ts === tr.specific : cell.ts >= tr.start && cell.ts < tr.end;
}

/**
 * The row as the read returns it, or undefined when it is not returned: missing, filtered out,
 * or (with columnsToGet) holding none of the requested columns. As in the service, a filter sees
 * only the columns being read, so a filter on a column not in columnsToGet sees it as missing.
 */
export function project(meta: TableMeta, view: RowView | undefined, opts: ReadOptions): OutRow | undefined {
  if (!view) return undefined;
  const wanted = opts.columnsToGet.length > 0 ? new Set(opts.columnsToGet) : undefined;
  const visible = new Map<string, Cell>();
  for (const [name, cell] of view.cells) {
    if ((!wanted || wanted.has(name)) && inTimeRange(cell, opts.timeRange)) visible.set(name, cell);
  }
  if (opts.filter && !evaluate(opts.filter, visible)) return undefined;

  let names = [...visible.keys()].sort(compareUtf8);
  if (opts.startColumn !== undefined) names = names.filter((n) => compareUtf8(n, opts.startColumn!) >= 0);
  if (opts.endColumn !== undefined) names = names.filter((n) => compareUtf8(n, opts.endColumn!) < 0);
  if (opts.filter?.kind === 'pagination') names = names.slice(opts.filter.offset, opts.filter.offset + opts.filter.limit);

  const wantsPk = wanted !== undefined && meta.primaryKey.some((pk) => wanted.has(pk.name));
  if (wanted && names.length === 0 && !wantsPk) return undefined;
  return {
    primaryKey: view.primaryKey.map((value, i) => ({ name: meta.primaryKey[i]!.name, value })),
    cells: names.map((name) => {
      const cell = visible.get(name)!;
      return { name, value: cell.value, ts: cell.ts };
    }),
  };
}
