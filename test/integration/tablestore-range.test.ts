/**
 * GetRange through the real SDK: paging with nextStartPrimaryKey forward and backward, key order
 * (signed 64-bit integers, strings and binaries as unsigned bytes, INF_MIN/INF_MAX, composite keys),
 * filters with paging, and the 5,000-row / 4 MB page limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import {
  CT,
  Condition,
  INF_MAX,
  INF_MIN,
  Long,
  RE,
  SingleColumnCondition,
  TableStore,
  attrs,
  createTable,
  expectOtsError,
  pkValues,
  start,
  type Client,
} from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;

type Key = Array<Record<string, unknown>>;

async function putAll(tableName: string, rows: Array<{ pk: Key; columns?: Array<Record<string, unknown>> }>): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const r = await client.batchWriteRow({
      tables: [
        {
          tableName,
          rows: rows.slice(i, i + 200).map((row) => ({
            type: 'PUT' as const,
            condition: new Condition(RE.IGNORE, null),
            primaryKey: row.pk as never,
            attributeColumns: (row.columns ?? []) as never,
          })),
        },
      ],
    });
    expect(r.tables.every((t) => t.isOk)).toBe(true);
  }
}

interface RangeOptions {
  direction?: 'FORWARD' | 'BACKWARD';
  limit?: number;
  columnFilter?: InstanceType<typeof SingleColumnCondition>;
  columnsToGet?: string[];
}

/** Pages through a range as an adapter would, converting nextStartPrimaryKey back to input form. */
async function readAll(tableName: string, startKey: Key, endKey: Key, opts: RangeOptions = {}) {
  const rows: unknown[] = [];
  const pages: number[] = [];
  let next: Key | null = startKey;
  while (next) {
    const r = await client.getRange({
      tableName,
      direction: opts.direction ?? 'FORWARD',
      inclusiveStartPrimaryKey: next as never,
      exclusiveEndPrimaryKey: endKey as never,
      ...(opts.limit ? { limit: opts.limit } : {}),
      ...(opts.columnFilter ? { columnFilter: opts.columnFilter } : {}),
      ...(opts.columnsToGet ? { columnsToGet: opts.columnsToGet } : {}),
    });
    rows.push(...r.rows);
    pages.push(r.rows.length);
    next = r.nextStartPrimaryKey ? r.nextStartPrimaryKey.map((p) => ({ [p.name]: p.value })) : null;
  }
  return { rows, pages };
}

beforeAll(async () => {
  ({ emu, client } = await start());
  await createTable(client, 'seq', [['n', 'INTEGER']]);
  await createTable(client, 'names', [['s', 'STRING']]);
  await createTable(client, 'blobs', [['b', 'BINARY']]);
  await createTable(client, 'jobs', [['shard', 'INTEGER'], ['id', 'STRING']]);
  await putAll(
    'seq',
    Array.from({ length: 1000 }, (_, i) => ({ pk: [{ n: Long.fromNumber(i * 7 - 3500) }], columns: [{ even: i % 2 === 0 }] })),
  );
});
afterAll(() => emu.close());

describe('paging', () => {
  it('pages through 1,000 rows with limit 100 forward: each row once, in order', async () => {
    const { rows, pages } = await readAll('seq', [{ n: INF_MIN }], [{ n: INF_MAX }], { limit: 100 });
    expect(pages).toEqual(Array(10).fill(100));
    expect(rows.map((r) => Number(pkValues(r)[0]))).toEqual(Array.from({ length: 1000 }, (_, i) => i * 7 - 3500));
  });

  it('pages through 1,000 rows with limit 100 backward (start > end): each row once, descending', async () => {
    const { rows, pages } = await readAll('seq', [{ n: INF_MAX }], [{ n: INF_MIN }], { limit: 100, direction: 'BACKWARD' });
    expect(pages).toEqual(Array(10).fill(100));
    expect(rows.map((r) => Number(pkValues(r)[0]))).toEqual(Array.from({ length: 1000 }, (_, i) => (999 - i) * 7 - 3500));
  });

  it('the start key is inclusive and the end key exclusive, in both directions', async () => {
    const fwd = await readAll('seq', [{ n: Long.fromNumber(-3500) }], [{ n: Long.fromNumber(-3465) }]);
    expect(fwd.rows.map((r) => Number(pkValues(r)[0]))).toEqual([-3500, -3493, -3486, -3479, -3472]);
    const back = await readAll('seq', [{ n: Long.fromNumber(-3465) }], [{ n: Long.fromNumber(-3500) }], { direction: 'BACKWARD' });
    expect(back.rows.map((r) => Number(pkValues(r)[0]))).toEqual([-3465, -3472, -3479, -3486, -3493]);
    // A start key between stored keys.
    const between = await readAll('seq', [{ n: Long.fromNumber(-3499) }], [{ n: Long.fromNumber(-3480) }]);
    expect(between.rows.map((r) => Number(pkValues(r)[0]))).toEqual([-3493, -3486]);
  });

  it('nextStartPrimaryKey is null once the range holds no more rows', async () => {
    const r = await client.getRange({
      tableName: 'seq',
      direction: 'FORWARD',
      inclusiveStartPrimaryKey: [{ n: Long.fromNumber(3400) }],
      exclusiveEndPrimaryKey: [{ n: INF_MAX }],
      limit: 14, // exactly the 14 rows left
    });
    expect(r.rows).toHaveLength(14);
    expect(r.nextStartPrimaryKey).toBeNull();
  });

  it('a filter keeps paging correct: rows are filtered after the scan', async () => {
    const filter = new SingleColumnCondition('even', true, CT.EQUAL, false);
    const { rows } = await readAll('seq', [{ n: INF_MIN }], [{ n: INF_MAX }], { limit: 100, columnFilter: filter });
    expect(rows).toHaveLength(500);
    expect(rows.every((r) => attrs(r).even === true)).toBe(true);
  });

  it('records count rows scanned per GetRange (the benchmark reads these)', async () => {
    emu.records.length = 0;
    await client.getRange({
      tableName: 'seq',
      direction: 'FORWARD',
      inclusiveStartPrimaryKey: [{ n: INF_MIN }],
      exclusiveEndPrimaryKey: [{ n: INF_MAX }],
      limit: 50,
      columnFilter: new SingleColumnCondition('even', false, CT.EQUAL, false),
    });
    expect(emu.records).toEqual([
      expect.objectContaining({ action: 'ots:GetRange', operation: 'GetRange', table: 'seq', status: 200, rowsRead: 100, rowsReturned: 50, rowsWritten: 0 }),
    ]);
  });

  it('a page stops at 5,000 scanned rows even when few match, with a next key', async () => {
    await createTable(client, 'many', [['n', 'INTEGER']]);
    await putAll(
      'many',
      Array.from({ length: 5200 }, (_, i) => ({ pk: [{ n: Long.fromNumber(i) }], columns: [{ hit: i >= 5100 }] })),
    );
    const first = await client.getRange({
      tableName: 'many',
      direction: 'FORWARD',
      inclusiveStartPrimaryKey: [{ n: INF_MIN }],
      exclusiveEndPrimaryKey: [{ n: INF_MAX }],
      limit: 10_000,
      columnFilter: new SingleColumnCondition('hit', true, CT.EQUAL, false),
    });
    expect(first.rows).toHaveLength(0);
    expect(first.nextStartPrimaryKey?.map((p) => String(p.value))).toEqual(['5000']);
    const { rows } = await readAll('many', [{ n: INF_MIN }], [{ n: INF_MAX }], {
      columnFilter: new SingleColumnCondition('hit', true, CT.EQUAL, false),
    });
    expect(rows).toHaveLength(100);
  });

  it('columns to get: only those come back, and rows holding none of them are left out', async () => {
    await createTable(client, 'cols', [['s', 'STRING']]);
    await putAll('cols', [
      { pk: [{ s: 'a' }], columns: [{ state: 'RUNNING' }, { prompt: 'a cat' }, { n: Long.fromNumber(2) }] },
      { pk: [{ s: 'b' }], columns: [{ prompt: 'a dog' }] },
      { pk: [{ s: 'c' }], columns: [{ state: 'DONE' }, { prompt: 'a boat' }] },
    ]);
    const { rows } = await readAll('cols', [{ s: INF_MIN }], [{ s: INF_MAX }], { columnsToGet: ['state', 'n'] });
    expect(rows.map((r) => [pkValues(r)[0], attrs(r)])).toEqual([
      ['a', { n: '2', state: 'RUNNING' }], // attrs() gives INTEGER columns as strings
      ['c', { state: 'DONE' }],
    ]);
  });

  it('a page stops at 4 MB of data and resumes from nextStartPrimaryKey', async () => {
    await createTable(client, 'fat', [['s', 'STRING']]);
    const blob = Buffer.alloc(1536 * 1024, 7);
    for (const s of ['a', 'b', 'c', 'd', 'e']) {
      await client.putRow({ tableName: 'fat', primaryKey: [{ s }], attributeColumns: [{ blob }], condition: new Condition(RE.IGNORE, null) });
    }
    const { rows, pages } = await readAll('fat', [{ s: INF_MIN }], [{ s: INF_MAX }]);
    expect(pages).toEqual([3, 2]);
    expect(rows.map((r) => pkValues(r)[0])).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((attrs(rows[4]).blob as Buffer).equals(blob)).toBe(true);
  });
});

describe('key order', () => {
  it('INTEGER keys sort numerically as signed 64-bit, negatives first', async () => {
    await createTable(client, 'ints', [['n', 'INTEGER']]);
    const values = ['9223372036854775807', '-9223372036854775808', '10', '9', '-1', '0', '-10', '100', '4294967296', '-4294967296'];
    await putAll(
      'ints',
      values.map((v) => ({ pk: [{ n: Long.fromString(v) }] })),
    );
    const { rows } = await readAll('ints', [{ n: INF_MIN }], [{ n: INF_MAX }]);
    expect(rows.map((r) => pkValues(r)[0])).toEqual([...values].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
  });

  it('STRING keys sort by UTF-8 bytes (not JS UTF-16 order), BINARY keys by unsigned bytes', async () => {
    // U+FF5E sorts after U+1F600 in UTF-16 code units but before it in UTF-8 bytes.
    const strings = ['b', 'a', 'B', '', 'ab', '\uff5e', '\u{1f600}', 'é', 'a\u0000'];
    await putAll(
      'names',
      strings.map((s) => ({ pk: [{ s }] })),
    );
    const { rows } = await readAll('names', [{ s: INF_MIN }], [{ s: INF_MAX }]);
    const expected = [...strings].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(rows.map((r) => pkValues(r)[0])).toEqual(expected);
    expect(expected.indexOf('\uff5e')).toBeLessThan(expected.indexOf('\u{1f600}'));

    const blobs = [[0x80], [0x7f], [0xff, 0x00], [0x00], [], [0x00, 0x00], [0x01]].map((b) => Buffer.from(b));
    await putAll(
      'blobs',
      blobs.map((b) => ({ pk: [{ b }] })),
    );
    const got = await readAll('blobs', [{ b: INF_MIN }], [{ b: INF_MAX }]);
    expect(got.rows.map((r) => (pkValues(r)[0] as Buffer).toString('hex'))).toEqual(
      [...blobs].sort(Buffer.compare).map((b) => b.toString('hex')),
    );
  });

  it('composite keys compare column by column; INF bounds select one leading value', async () => {
    const keys: Array<[number, string]> = [
      [2, 'b'],
      [1, 'z'],
      [2, 'a'],
      [-1, 'm'],
      [1, 'a'],
      [3, ''],
    ];
    await putAll(
      'jobs',
      keys.map(([shard, id]) => ({ pk: [{ shard: Long.fromNumber(shard) }, { id }] })),
    );
    const all = await readAll('jobs', [{ shard: INF_MIN }, { id: INF_MIN }], [{ shard: INF_MAX }, { id: INF_MAX }]);
    expect(all.rows.map(pkValues)).toEqual([
      ['-1', 'm'],
      ['1', 'a'],
      ['1', 'z'],
      ['2', 'a'],
      ['2', 'b'],
      ['3', ''],
    ]);
    const shard2 = await readAll('jobs', [{ shard: Long.fromNumber(2) }, { id: INF_MIN }], [{ shard: Long.fromNumber(2) }, { id: INF_MAX }]);
    expect(shard2.rows.map(pkValues)).toEqual([
      ['2', 'a'],
      ['2', 'b'],
    ]);
    const back = await readAll('jobs', [{ shard: Long.fromNumber(2) }, { id: INF_MAX }], [{ shard: Long.fromNumber(1) }, { id: INF_MAX }], {
      direction: 'BACKWARD',
    });
    expect(back.rows.map(pkValues)).toEqual([
      ['2', 'b'],
      ['2', 'a'],
    ]);
  });
});

describe('errors', () => {
  it('start must be below end going forward, above it going backward', async () => {
    await expectOtsError(
      client.getRange({
        tableName: 'seq',
        direction: 'FORWARD',
        inclusiveStartPrimaryKey: [{ n: INF_MAX }],
        exclusiveEndPrimaryKey: [{ n: INF_MIN }],
      }),
      400,
      'OTSParameterInvalid',
      'Begin key must less than end key in FORWARD',
    );
    await expectOtsError(
      client.getRange({
        tableName: 'seq',
        direction: TableStore.Direction.BACKWARD,
        inclusiveStartPrimaryKey: [{ n: INF_MIN }],
        exclusiveEndPrimaryKey: [{ n: INF_MAX }],
      }),
      400,
      'OTSParameterInvalid',
      'Begin key must more than end key in BACKWARD',
    );
  });

  it('bounds must follow the key schema', async () => {
    await expectOtsError(
      client.getRange({
        tableName: 'jobs',
        direction: 'FORWARD',
        inclusiveStartPrimaryKey: [{ shard: INF_MIN }],
        exclusiveEndPrimaryKey: [{ shard: INF_MAX }],
      }),
      400,
      'OTSInvalidPK',
      'Validate PK size fail',
    );
    await expectOtsError(
      client.getRange({ tableName: 'missing', direction: 'FORWARD', inclusiveStartPrimaryKey: [{ n: INF_MIN }], exclusiveEndPrimaryKey: [{ n: INF_MAX }] }),
      404,
      'OTSObjectNotExist',
    );
  });
});

describe('switches for what the service does not document (lib/local/README.md)', () => {
  /** Pages through `names` with a client of `other`, as readAll does. */
  async function pagesOf(other: { client: Client }, limit?: number) {
    const pages: string[][] = [];
    let next: Key | null = [{ s: INF_MIN }];
    while (next) {
      const r = await other.client.getRange({ tableName: 'names', direction: 'FORWARD', inclusiveStartPrimaryKey: next as never, exclusiveEndPrimaryKey: [{ s: INF_MAX }] as never, ...(limit ? { limit } : {}) });
      pages.push(r.rows.map((row) => String(pkValues(row)[0])));
      next = r.nextStartPrimaryKey ? r.nextStartPrimaryKey.map((p) => ({ [p.name]: p.value })) : null;
      if (pages.length > 10) throw new Error('paging does not end');
    }
    return pages;
  }

  async function withNames(options: Parameters<typeof start>[0], run: (other: Awaited<ReturnType<typeof start>>) => Promise<void>): Promise<void> {
    const other = await start(options);
    try {
      await createTable(other.client, 'names', [['s', 'STRING']]);
      for (const s of ['a', 'b', 'c', 'd', 'e']) {
        await other.client.putRow({ tableName: 'names', condition: new Condition(RE.IGNORE, null), primaryKey: [{ s }], attributeColumns: [{ v: 'x'.repeat(100) }] });
      }
      await run(other);
    } finally {
      await other.emu.close();
    }
  }

  it('rangePageRows cuts pages short of the limit, with a next key (as the 5,000-row cut does)', async () => {
    await withNames({ rangePageRows: 2 }, async (other) => {
      expect(await pagesOf(other, 100)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    });
  });

  it('rangePageBytes cuts pages by size rather than by limit', async () => {
    await withNames({ rangePageBytes: 250 }, async (other) => {
      const pages = await pagesOf(other, 100);
      expect(pages.flat()).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.every((p) => p.length < 5)).toBe(true);
    });
  });

  it("rangeNextKeyAtEnd: 'send' gives a next key after a page cut exactly at the last row; its page is empty", async () => {
    await withNames({ rangeNextKeyAtEnd: 'send' }, async (other) => {
      expect(await pagesOf(other, 5)).toEqual([['a', 'b', 'c', 'd', 'e'], []]);
      // Not cut: no next key at all.
      expect(await pagesOf(other, 6)).toEqual([['a', 'b', 'c', 'd', 'e']]);
    });
    await withNames({}, async (other) => {
      expect(await pagesOf(other, 5)).toEqual([['a', 'b', 'c', 'd', 'e']]);
    });
  });

  it('refuses switch values outside what the service could do', async () => {
    await expect(start({ rangePageRows: 0 })).rejects.toThrow(/rangePageRows/);
    await expect(start({ rangePageRows: 5001 })).rejects.toThrow(/rangePageRows/);
    await expect(start({ rangeNextKeyAtEnd: 'maybe' as never })).rejects.toThrow(/rangeNextKeyAtEnd/);
  });
});
