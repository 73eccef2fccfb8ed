/**
 * Tablestore capacity units as the service meters them, from the sizes of the rows the pipeline
 * really reads and writes (a RowStore decorator: runtime `decorate.rows`). Rules (storage docs:
 * https://www.alibabacloud.com/help/doc-detail/27284.htm, https://helpcdn.aliyun.com/document_detail/27298.html):
 * - a read costs ⌈bytes / 4 KB⌉ read CU, at least 1 (a missing row included); GetRange sums the
 *   bytes of all rows it scanned before rounding; BatchGetRow counts each row like a GetRow;
 * - a write costs ⌈bytes / 4 KB⌉ write CU, at least 1, and a condition other than IGNORE adds
 *   ⌈primary key bytes / 4 KB⌉ = 1 read CU; a failed condition still costs 1 read + 1 write.
 * Row bytes = column names + values: primary key (kind, id) and attributes (body JSON, rev int64).
 */
import { ConditionFailedError } from '../lib/errors.js';
import type { Expect, RowStore, StoredRow } from '../lib/core/ports.js';
import { invocationScope } from './virtual-time.js';

export interface CuMeter {
  readCu: number;
  writeCu: number;
  reads: number;
  writes: number;
  /** Requests by `<function> <operation> <row kind>` (where the requests go). */
  requests: Record<string, number>;
}

const CU = 4096;
const pkBytes = (kind: string, id: string) => 4 + Buffer.byteLength(kind) + 2 + Buffer.byteLength(id);
const rowBytes = (kind: string, id: string, value: unknown) => pkBytes(kind, id) + 4 + Buffer.byteLength(JSON.stringify(value)) + 3 + 8;
const cu = (bytes: number) => Math.max(1, Math.ceil(bytes / CU));

export function newMeter(): CuMeter {
  return { readCu: 0, writeCu: 0, reads: 0, writes: 0, requests: {} };
}

/** The invocation a request belongs to (the bench harness runs each one in invocationScope). */
function caller(): string {
  const inv = invocationScope.getStore() as { fn?: string; trigger?: string } | undefined;
  if (!inv?.fn) return 'other';
  return inv.fn === 'poller' ? `poller(${inv.trigger ?? '?'})` : inv.fn;
}

export function meteredRows(inner: RowStore, meter: CuMeter): RowStore {
  const count = (op: string, kind: string) => {
    const key = `${caller()} ${op} ${kind}`;
    meter.requests[key] = (meter.requests[key] ?? 0) + 1;
  };
  const write = async <T>(kind: string, id: string, bytes: number, expect: Expect | undefined, run: () => Promise<T>, op = 'put'): Promise<T> => {
    meter.writes++;
    count(op, kind);
    const conditional = expect !== undefined && expect !== 'any';
    try {
      const out = await run();
      meter.writeCu += cu(bytes);
      if (conditional) meter.readCu += cu(pkBytes(kind, id));
      return out;
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        meter.writeCu += 1;
        meter.readCu += 1;
      }
      throw err;
    }
  };
  return {
    async get<T>(kind: string, id: string) {
      meter.reads++;
      count('get', kind);
      const row = await inner.get<T>(kind, id);
      meter.readCu += cu(row ? rowBytes(kind, id, row.value) : 0);
      return row;
    },
    async getMany<T>(kind: string, ids: string[]) {
      meter.reads += Math.ceil(ids.length / 100);
      count('getMany', kind);
      const rows = await inner.getMany<T>(kind, ids);
      for (const id of ids) {
        const row = rows.get(id);
        meter.readCu += cu(row ? rowBytes(kind, id, row.value) : 0);
      }
      return rows;
    },
    put<T>(kind: string, id: string, value: T, expect: Expect) {
      return write(kind, id, rowBytes(kind, id, value), expect, () => inner.put(kind, id, value, expect));
    },
    delete(kind: string, id: string, expect?: Expect) {
      return write(kind, id, pkBytes(kind, id), expect, () => inner.delete(kind, id, expect), 'delete');
    },
    async scan<T>(kind: string, options?: { from?: string; limit?: number }) {
      meter.reads++;
      count('scan', kind);
      const page = await inner.scan<T>(kind, options);
      const bytes = page.rows.reduce((s: number, r: StoredRow<T>) => s + rowBytes(kind, r.id, r.value), 0);
      meter.readCu += cu(bytes);
      return page;
    },
  };
}
