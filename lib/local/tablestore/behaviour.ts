/**
 * Where what the service does is not settled by a public source, the emulator can act each
 * plausible way, so a caller's guess cannot hide a bug: run the caller's tests under each value
 * (lib/local/README.md lists these switches with their sources).
 */
import { LIMITS } from './validate.js';

export interface TablestoreBehaviour {
  /**
   * BatchWriteRow naming one primary key twice in one table. 'refuse' (default): the whole request
   * fails with OTSParameterInvalid, as the BatchWriteRow reference lists it among whole-request
   * errors and the FAQ "OTSParameterInvalid … BatchWriteRow" explains it. 'allow': applied in
   * order, the last one wins, conditions refused on such rows, as the Java SDK's function tests
   * (OTSAPIBehaviorTest.testBatchWriteRowToPutIdenticalRowPk) expect of the service.
   */
  repeatedRowsInBatchWrite: 'refuse' | 'allow';
  /** GetRange scans at most this many rows per page (service: 5000); smaller values make short pages with a next key. */
  rangePageRows: number;
  /** GetRange stops a page once this many bytes were scanned (service: 4 MB). */
  rangePageBytes: number;
  /**
   * A GetRange page cut by limit or size when no row is left in the range. 'omit' (default): no
   * nextStartPrimaryKey. 'send': a next key just past the last row anyway (forward ranges), whose
   * page is then empty. The reference only says "empty means everything was read".
   */
  rangeNextKeyAtEnd: 'omit' | 'send';
}

export const DEFAULT_BEHAVIOUR: TablestoreBehaviour = {
  repeatedRowsInBatchWrite: 'refuse',
  rangePageRows: LIMITS.rangeRows,
  rangePageBytes: LIMITS.rangeBytes,
  rangeNextKeyAtEnd: 'omit',
};

export function behaviourFrom(options: Partial<TablestoreBehaviour>): TablestoreBehaviour {
  const b = { ...DEFAULT_BEHAVIOUR, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  for (const [name, max] of [
    ['rangePageRows', LIMITS.rangeRows],
    ['rangePageBytes', LIMITS.rangeBytes],
  ] as const) {
    if (!Number.isInteger(b[name]) || b[name] < 1 || b[name] > max) throw new RangeError(`${name} must be an integer from 1 to ${max}`);
  }
  if (!['refuse', 'allow'].includes(b.repeatedRowsInBatchWrite)) throw new RangeError(`repeatedRowsInBatchWrite must be 'refuse' or 'allow'`);
  if (!['omit', 'send'].includes(b.rangeNextKeyAtEnd)) throw new RangeError(`rangeNextKeyAtEnd must be 'omit' or 'send'`);
  return b;
}
