/**
 * Column conditions and filters: one evaluator serves conditional writes and read filters
 * (GetRow/BatchGetRow/GetRange `columnFilter`), as in the service.
 */
import { conditionFailed, paramInvalid } from './errors.js';
import { readSqlVariant } from './plainbuffer-reader.js';
import { filterProto } from './sdk.js';
import type { Cell, RowView } from './table.js';
import { LIMITS, checkColumnName } from './validate.js';
import { compareValues, type Value } from './values.js';

export type Comparator = 'EQUAL' | 'NOT_EQUAL' | 'GREATER_THAN' | 'GREATER_EQUAL' | 'LESS_THAN' | 'LESS_EQUAL';

export type Filter =
  | { kind: 'single'; column: string; comparator: Comparator; value: Value; filterIfMissing: boolean; latestVersionOnly: boolean }
  | { kind: 'composite'; combinator: 'NOT' | 'AND' | 'OR'; subs: Filter[] }
  | { kind: 'pagination'; offset: number; limit: number };

const COMPARATORS: Record<number, Comparator> = {
  1: 'EQUAL',
  2: 'NOT_EQUAL',
  3: 'GREATER_THAN',
  4: 'GREATER_EQUAL',
  5: 'LESS_THAN',
  6: 'LESS_EQUAL',
};
const COMBINATORS = { 1: 'NOT', 2: 'AND', 3: 'OR' } as const;

interface PbFilter {
  type: number;
  filter: Uint8Array;
}

function decodeOr<T>(type: string, bytes: Uint8Array, failure: string): T {
  try {
    return filterProto(type).decode(bytes) as T;
  } catch {
    throw paramInvalid(failure);
  }
}

function fromPb(pb: PbFilter, counter: { n: number }): Filter {
  switch (pb.type) {
    case 1: {
      const m = decodeOr<{ comparator: number; columnName: string; columnValue: Uint8Array; filterIfMissing: boolean; latestVersionOnly: boolean }>(
        'SingleColumnValueFilter',
        pb.filter,
        'Deserialize relation filter failed.',
      );
      checkColumnName(m.columnName);
      const comparator = COMPARATORS[m.comparator];
      if (!comparator) throw paramInvalid(`Invalid relation operator: ${m.comparator}.`);
      const value = readSqlVariant(m.columnValue);
      if (value.type === 'INF_MIN' || value.type === 'INF_MAX' || value.type === 'AUTO_INCREMENT' || value.type === 'NULL') {
        throw paramInvalid('Deserialize relation filter failed.');
      }
      if (++counter.n > LIMITS.filterConditions) throw paramInvalid(`The count of filter exceeds the max:${LIMITS.filterConditions}.`);
      return { kind: 'single', column: m.columnName, comparator, value, filterIfMissing: m.filterIfMissing, latestVersionOnly: m.latestVersionOnly };
    }
    case 2: {
      const m = decodeOr<{ combinator: number; subFilters: PbFilter[] }>('CompositeColumnValueFilter', pb.filter, 'Deserialize composite filter failed.');
      const combinator = COMBINATORS[m.combinator as 1 | 2 | 3];
      if (!combinator) throw paramInvalid(`Invalid relation operator: ${m.combinator}.`);
      if (combinator === 'NOT' && m.subFilters.length !== 1) throw paramInvalid('Invalid NOT operator: the number of sub-filters must be 1.');
      if (combinator !== 'NOT' && m.subFilters.length < 2) throw paramInvalid('Invalid AND/OR operator: the number of sub-filters must be 2.');
      const subs = m.subFilters.map((sub) => {
        const f = fromPb(sub, counter);
        if (f.kind === 'pagination') throw paramInvalid(`Invalid type of sub-filter: ${sub.type}.`);
        return f;
      });
      return { kind: 'composite', combinator, subs };
    }
    case 3: {
      const m = decodeOr<{ offset: number; limit: number }>('ColumnPaginationFilter', pb.filter, 'Deserialize column pagination filter failed.');
      if (m.offset < 0) throw paramInvalid('Offset in ColumnPaginationFilter must be greater than or equal to 0.');
      if (m.limit <= 0) throw paramInvalid('Limit in ColumnPaginationFilter must be greater than 0.');
      return { kind: 'pagination', offset: m.offset, limit: m.limit };
    }
    default:
      throw paramInvalid(`Invalid type of filter: ${pb.type}.`);
  }
}

/** Decodes a serialized `filter.proto.Filter` (a request's filter or a condition's column condition). */
export function decodeFilter(bytes: Uint8Array): Filter {
  const pb = decodeOr<PbFilter>('Filter', bytes, 'Deserialize filter failed.');
  return fromPb(pb, { n: 0 });
}

function compare(comparator: Comparator, c: number): boolean {
  switch (comparator) {
    case 'EQUAL':
      return c === 0;
    case 'NOT_EQUAL':
      return c !== 0;
    case 'GREATER_THAN':
      return c > 0;
    case 'GREATER_EQUAL':
      return c >= 0;
    case 'LESS_THAN':
      return c < 0;
    case 'LESS_EQUAL':
      return c <= 0;
  }
}

/**
 * True when the row passes. A missing column passes unless filterIfMissing (the SDK's
 * passIfMissing=false); a value of another type never passes. Only the newest version is kept, so
 * latestVersionOnly makes no difference here. A pagination filter selects columns, not rows.
 */
export function evaluate(filter: Filter, cells: ReadonlyMap<string, Cell>): boolean {
  switch (filter.kind) {
    case 'single': {
      const cell = cells.get(filter.column);
      if (!cell) return !filter.filterIfMissing;
      const c = compareValues(cell.value, filter.value);
      return c !== undefined && compare(filter.comparator, c);
    }
    case 'composite':
      if (filter.combinator === 'NOT') return !evaluate(filter.subs[0]!, cells);
      if (filter.combinator === 'AND') return filter.subs.every((f) => evaluate(f, cells));
      return filter.subs.some((f) => evaluate(f, cells));
    case 'pagination':
      return true;
  }
}

export type RowExistence = 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST';

export interface Condition {
  rowExistence: RowExistence;
  columnCondition?: Filter;
}

interface PbCondition {
  rowExistence: number;
  columnCondition?: Uint8Array;
}

const EXISTENCE: Record<number, RowExistence> = { 0: 'IGNORE', 1: 'EXPECT_EXIST', 2: 'EXPECT_NOT_EXIST' };

export function decodeCondition(pb: PbCondition): Condition {
  const rowExistence = EXISTENCE[pb.rowExistence];
  if (!rowExistence) throw paramInvalid(`Invalid row-existence expectation: ${pb.rowExistence}.`);
  const condition: Condition = { rowExistence };
  if (pb.columnCondition && pb.columnCondition.length > 0) {
    const f = decodeFilter(pb.columnCondition);
    if (f.kind === 'pagination') throw paramInvalid(`Invalid condition:${JSON.stringify(f)}.`);
    condition.columnCondition = f;
  }
  return condition;
}

/** Throws OTSConditionCheckFail unless the current row satisfies the condition. */
export function checkCondition(condition: Condition, current: RowView | undefined): void {
  if (condition.rowExistence === 'EXPECT_EXIST' && !current) throw conditionFailed();
  if (condition.rowExistence === 'EXPECT_NOT_EXIST' && current) throw conditionFailed();
  if (condition.columnCondition && !evaluate(condition.columnCondition, current?.cells ?? new Map())) throw conditionFailed();
}
