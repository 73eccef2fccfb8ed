/**
 * One table: its schema and options, and its rows kept sorted by primary key (binary search;
 * inserts are O(n), fine for the row counts an emulator sees). Only the newest version of each
 * cell is kept: reads answer max versions 1.
 */
import { comparePk } from './ordering.js';
import type { PkBound, PkType, PkValue, Value } from './values.js';

export interface Cell {
  value: Value;
  /** Cell version, ms. */
  ts: number;
}

export interface StoredRow {
  primaryKey: PkValue[];
  cells: Map<string, Cell>;
  /**
   * Set by PutRow (its write time): a row put with no attribute columns still exists. A row made
   * by UpdateRow exists while it has cells.
   */
  putAt?: number;
}

export interface TableMeta {
  name: string;
  primaryKey: Array<{ name: string; type: PkType }>;
  definedColumns: Array<{ name: string; type: number }>;
  /** Seconds; -1 = never expire. */
  timeToLive: number;
  maxVersions: number;
  /** Seconds a written cell timestamp may differ from the write time. */
  maxTimeDeviation: number;
  allowUpdate: boolean;
  reservedRead: number;
  reservedWrite: number;
  /** Epoch seconds, reported as reserved-throughput "last increase time". */
  createdAt: number;
}

/** What a reader sees of a row at a moment: TTL-expired cells removed. */
export interface RowView {
  primaryKey: PkValue[];
  cells: Map<string, Cell>;
}

export class Table {
  readonly rows: StoredRow[] = [];

  constructor(public meta: TableMeta) {}

  /** Index of the row with this key, or of where it would be inserted. */
  private search(pk: readonly PkBound[]): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = comparePk(this.rows[mid]!.primaryKey, pk);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }

  getStored(pk: readonly PkValue[]): StoredRow | undefined {
    const { index, found } = this.search(pk);
    return found ? this.rows[index] : undefined;
  }

  /** Stores the row, or removes it when nothing of it remains. */
  setStored(row: StoredRow): void {
    const { index, found } = this.search(row.primaryKey);
    const empty = row.cells.size === 0 && row.putAt === undefined;
    if (found) {
      if (empty) this.rows.splice(index, 1);
      else this.rows[index] = row;
    } else if (!empty) {
      this.rows.splice(index, 0, row);
    }
  }

  remove(pk: readonly PkValue[]): void {
    const { index, found } = this.search(pk);
    if (found) this.rows.splice(index, 1);
  }

  /** Cells older than the TTL are invisible at once (the service deletes them later). */
  view(row: StoredRow, now: number): RowView | undefined {
    const ttl = this.meta.timeToLive;
    if (ttl <= 0) {
      return row.cells.size > 0 || row.putAt !== undefined ? { primaryKey: row.primaryKey, cells: row.cells } : undefined;
    }
    const oldest = now - ttl * 1000;
    const cells = new Map<string, Cell>();
    for (const [name, cell] of row.cells) if (cell.ts > oldest) cells.set(name, cell);
    const markerAlive = row.putAt !== undefined && row.putAt > oldest;
    return cells.size > 0 || markerAlive ? { primaryKey: row.primaryKey, cells } : undefined;
  }

  get(pk: readonly PkValue[], now: number): RowView | undefined {
    const row = this.getStored(pk);
    return row ? this.view(row, now) : undefined;
  }

  /**
   * Stored rows from an inclusive start towards an exclusive end. Forward: start <= pk < end.
   * Backward: start >= pk > end, in descending order.
   */
  *scan(start: readonly PkBound[], end: readonly PkBound[], backward: boolean): Generator<StoredRow> {
    if (!backward) {
      for (let i = this.search(start).index; i < this.rows.length; i++) {
        const row = this.rows[i]!;
        if (comparePk(row.primaryKey, end) >= 0) return;
        yield row;
      }
    } else {
      const s = this.search(start);
      for (let i = s.found ? s.index : s.index - 1; i >= 0; i--) {
        const row = this.rows[i]!;
        if (comparePk(row.primaryKey, end) <= 0) return;
        yield row;
      }
    }
  }
}
