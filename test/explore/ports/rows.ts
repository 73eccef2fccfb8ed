/**
 * RowStore in memory, with the real adapter's semantics (lib/adapters/tablestore.ts): values go
 * through JSON as they do over the wire (undefined fields vanish, writers keep no reference) and
 * are kept deep-frozen, so readers share them without a copy and a reader that mutated one would
 * fail loudly instead of corrupting the table; a put with `{rev}`
 * writes rev+1 and fails unless the row exists at that rev; `'any'` and `{absent}` write rev 1
 * (the adapter does exactly that); scans run in id order and `next` names the next row, if any.
 *
 * Each actor sees the table through `rowsPort`, where every call is a scheduling point that may
 * fail: OTSServerBusy (503, not applied) or a transport error (applied or not: a reset after the
 * write reached the server).
 */
import { ConditionFailedError, JobStoreError, TransportError } from '../../../lib/errors.js';
import type { Expect, RowStore, StoredRow } from '../../../lib/core/ports.js';
import type { Actor, Scheduler } from '../scheduler.js';
import type { Faults } from './faults.js';

interface Cell {
  value: unknown;
  rev: number;
}

/** What JSON.parse(JSON.stringify(v)) gives, deep-frozen, in one pass. */
function frozenJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  const withJson = v as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return frozenJson(withJson.toJSON());
  if (Array.isArray(v)) return Object.freeze(v.map((x: unknown) => (x === undefined || typeof x === 'function' ? null : frozenJson(x))));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined && typeof x !== 'function') out[k] = frozenJson(x);
  }
  return Object.freeze(out);
}

export class MemoryTable {
  private readonly kinds = new Map<string, Map<string, Cell>>();
  private readonly sorted = new Map<string, string[]>();
  /** Told of every applied put (the checks follow job rows). */
  onPut: ((kind: string, id: string, value: unknown) => void) | undefined;

  private kind(kind: string): Map<string, Cell> {
    let k = this.kinds.get(kind);
    if (!k) this.kinds.set(kind, (k = new Map()));
    return k;
  }

  get<T>(kind: string, id: string): StoredRow<T> | undefined {
    const cell = this.kinds.get(kind)?.get(id);
    return cell ? { id, value: cell.value as T, rev: cell.rev } : undefined;
  }

  put<T>(kind: string, id: string, value: T, expect: Expect): number {
    const rows = this.kind(kind);
    const cell = rows.get(id);
    if (expect !== 'any') {
      if ('absent' in expect && cell) throw new ConditionFailedError(`put ${kind}/${id}: Condition check failed.`);
      if ('rev' in expect && cell?.rev !== expect.rev) throw new ConditionFailedError(`put ${kind}/${id}: Condition check failed.`);
    }
    const rev = expect !== 'any' && 'rev' in expect ? expect.rev + 1 : 1;
    if (!cell) this.sorted.delete(kind);
    rows.set(id, { value: frozenJson(value), rev });
    this.onPut?.(kind, id, value);
    return rev;
  }

  delete(kind: string, id: string, expect: Expect = 'any'): void {
    const rows = this.kind(kind);
    const cell = rows.get(id);
    if (expect !== 'any') {
      if ('absent' in expect && cell) throw new ConditionFailedError(`delete ${kind}/${id}: Condition check failed.`);
      if ('rev' in expect && cell?.rev !== expect.rev) throw new ConditionFailedError(`delete ${kind}/${id}: Condition check failed.`);
    }
    if (cell) {
      rows.delete(id);
      this.sorted.delete(kind);
    }
  }

  scan<T>(kind: string, options: { from?: string; limit?: number } = {}): { rows: Array<StoredRow<T>>; next?: string } {
    const rows = this.kind(kind);
    let ids = this.sorted.get(kind);
    if (!ids) this.sorted.set(kind, (ids = [...rows.keys()].sort()));
    const limit = options.limit ?? 1000;
    const out: Array<StoredRow<T>> = [];
    for (const id of ids) {
      if (options.from !== undefined && id < options.from) continue;
      if (out.length >= limit) return { rows: out, next: id };
      const cell = rows.get(id)!;
      out.push({ id, value: cell.value as T, rev: cell.rev });
    }
    return { rows: out };
  }

  /** All rows of a kind, for the checks (no scheduling point). */
  all<T>(kind: string): Array<StoredRow<T>> {
    return this.scan<T>(kind, { limit: Infinity }).rows;
  }
}

type RowFault = 'busy' | 'reset-before' | 'reset-after';
const READ_FAULTS = [
  ['busy', 2],
  ['reset-before', 1],
] as const satisfies ReadonlyArray<readonly [RowFault, number]>;
const WRITE_FAULTS = [
  ['busy', 2],
  ['reset-before', 1],
  ['reset-after', 1],
] as const satisfies ReadonlyArray<readonly [RowFault, number]>;

function faultError(fault: RowFault, what: string): Error {
  return fault === 'busy'
    ? new JobStoreError('OTSServerBusy', `${what}: OTSServerBusy Server is busy.`, 503)
    : new TransportError('tablestore', `${what}: socket hang up`, true);
}

export function rowsPort(sched: Scheduler, actor: Actor, table: MemoryTable, faults: Faults): RowStore {
  function read<T>(name: string, what: string, run: () => T): Promise<T> {
    return sched.call(actor, 'rows', name, what, () => {
      const fault = faults.choose(actor, 'rows', READ_FAULTS, what);
      if (fault) throw faultError(fault, `${name} ${what}`);
      return run();
    });
  }
  function write<T>(name: string, what: string, run: () => T): Promise<T> {
    return sched.call(actor, 'rows', name, what, () => {
      const fault = faults.choose(actor, 'rows', WRITE_FAULTS, what);
      if (fault === 'reset-after') {
        try {
          run();
        } catch {
          // a failed condition is an answer the caller never sees either
        }
        throw faultError(fault, `${name} ${what}`);
      }
      if (fault) throw faultError(fault, `${name} ${what}`);
      return run();
    });
  }
  return {
    get: <T>(kind: string, id: string) => read('get', `${kind}/${id}`, () => table.get<T>(kind, id)),
    getMany: <T>(kind: string, ids: string[]) =>
      read('getMany', `${kind}/[${ids.length}]`, () => {
        const out = new Map<string, StoredRow<T>>();
        for (const id of ids) {
          const row = table.get<T>(kind, id);
          if (row) out.set(id, row);
        }
        return out;
      }),
    put: <T>(kind: string, id: string, value: T, expect: Expect) => write('put', kind === 'budget' ? `${kind}/${id} = ${JSON.stringify(value)}` : `${kind}/${id}`, () => table.put(kind, id, value, expect)),
    delete: (kind: string, id: string, expect?: Expect) => write('delete', `${kind}/${id}`, () => table.delete(kind, id, expect)),
    scan: <T>(kind: string, options?: { from?: string; limit?: number }) => read('scan', kind, () => table.scan<T>(kind, options)),
  };
}
