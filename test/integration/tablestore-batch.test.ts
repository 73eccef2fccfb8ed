/**
 * BatchGetRow and BatchWriteRow through the real SDK: per-row results (not atomic), limits of
 * 100 rows per get and 200 rows / 4 MB per write, and what fails a whole request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import {
  CT,
  Condition,
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

beforeAll(async () => {
  ({ emu, client } = await start());
  await createTable(client, 'jobs', [['id', 'STRING']]);
  await createTable(client, 'slots', [['slot', 'INTEGER']]);
});
afterAll(() => emu.close());

const ignore = () => new Condition(RE.IGNORE, null);
type WriteRow = Parameters<Client['batchWriteRow']>[0]['tables'][number]['rows'][number];
const putRow = (id: string, columns: Array<Record<string, unknown>>, condition = ignore()): WriteRow => ({
  type: 'PUT',
  condition,
  primaryKey: [{ id }],
  attributeColumns: columns as never,
});

describe('BatchWriteRow', () => {
  it('writes PUT, UPDATE and DELETE rows across tables; results come back flat, in request order', async () => {
    await client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'gone' }], attributeColumns: [{ a: '1' }], condition: ignore() });
    const r = await client.batchWriteRow({
      tables: [
        {
          tableName: 'jobs',
          rows: [
            putRow('p1', [{ status: 'QUEUED' }]),
            { type: 'UPDATE', condition: ignore(), primaryKey: [{ id: 'u1' }], attributeColumns: [{ PUT: [{ status: 'RUNNING' }] }] },
            { type: 'DELETE', condition: new Condition(RE.EXPECT_EXIST, null), primaryKey: [{ id: 'gone' }] },
          ],
        },
        { tableName: 'slots', rows: [{ type: 'PUT', condition: ignore(), primaryKey: [{ slot: Long.fromNumber(0) }], attributeColumns: [{ holder: 'p1' }] }] },
      ],
    });
    expect(r.tables.map((t) => [t.tableName, t.isOk])).toEqual([
      ['jobs', true],
      ['jobs', true],
      ['jobs', true],
      ['slots', true],
    ]);
    expect(emu.peekRow('jobs', ['p1'])?.attributes).toEqual({ status: 'QUEUED' });
    expect(emu.peekRow('jobs', ['u1'])?.attributes).toEqual({ status: 'RUNNING' });
    expect(emu.peekRow('jobs', ['gone'])).toBeUndefined();
    expect(emu.peekRow('slots', [0])?.attributes).toEqual({ holder: 'p1' });
  });

  it('one row failing its condition does not fail the others', async () => {
    await client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'taken' }], attributeColumns: [{ v: 'old' }], condition: ignore() });
    await client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'taken2' }], attributeColumns: [{ v: 'old' }], condition: ignore() });
    const r = await client.batchWriteRow({
      tables: [
        {
          tableName: 'jobs',
          rows: [
            putRow('ok1', [{ v: '1' }], new Condition(RE.EXPECT_NOT_EXIST, null)),
            putRow('taken', [{ v: 'new' }], new Condition(RE.EXPECT_NOT_EXIST, null)),
            {
              type: 'UPDATE',
              condition: new Condition(RE.EXPECT_EXIST, new SingleColumnCondition('v', 'nope', CT.EQUAL, false)),
              primaryKey: [{ id: 'taken2' }],
              attributeColumns: [{ PUT: [{ v: 'x' }] }],
            },
            putRow('ok2', [{ v: '2' }], new Condition(RE.EXPECT_NOT_EXIST, null)),
          ],
        },
      ],
    });
    expect(r.tables.map((t) => (t.isOk ? 'ok' : `${t.errorCode}: ${t.errorMessage}`))).toEqual([
      'ok',
      'OTSConditionCheckFail: Condition check failed.',
      'OTSConditionCheckFail: Condition check failed.',
      'ok',
    ]);
    expect(emu.peekRow('jobs', ['taken'])?.attributes).toEqual({ v: 'old' });
    expect(emu.peekRow('jobs', ['taken2'])?.attributes).toEqual({ v: 'old' });
    expect(emu.peekRow('jobs', ['ok2'])?.attributes).toEqual({ v: '2' });
  });

  it('a key that does not match the schema fails only its row (OTSInvalidPK)', async () => {
    const r = await client.batchWriteRow({
      tables: [{ tableName: 'jobs', rows: [putRow('fine', [{ a: '1' }]), { type: 'PUT', condition: ignore(), primaryKey: [{ wrong: 'x' }], attributeColumns: [] }] }],
    });
    expect(r.tables.map((t) => t.errorCode)).toEqual([null, 'OTSInvalidPK']);
    expect(emu.peekRow('jobs', ['fine'])).toBeDefined();
  });

  it('returnContent per row', async () => {
    const r = await client.batchWriteRow({
      tables: [{ tableName: 'jobs', rows: [{ ...putRow('rc', [{ a: '1' }]), returnContent: { returnType: TableStore.ReturnType.Primarykey } } as WriteRow] }],
    });
    expect(pkValues(r.tables[0])).toEqual(['rc']);
  });

  it('200 rows is the limit; 201 fail the whole request', async () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => putRow(`lim-${i}`, [{ i: Long.fromNumber(i) }]));
    const ok = await client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: rows(200) }] });
    expect(ok.tables.filter((t) => t.isOk)).toHaveLength(200);
    await expectOtsError(
      client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: rows(201).map((r, i) => ({ ...r, primaryKey: [{ id: `over-${i}` }] })) }] }),
      400,
      'OTSParameterInvalid',
      'Rows count exceeds the upper limit: 200.',
    );
    expect(emu.peekRow('jobs', ['over-0'])).toBeUndefined();
  });

  it('4 MB of data is the limit; more fails the whole request', async () => {
    const blob = (kb: number) => Buffer.alloc(kb * 1024);
    const ok = await client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('mb1', [{ b: blob(2000) }]), putRow('mb2', [{ b: blob(2000) }])] }] });
    expect(ok.tables.every((t) => t.isOk)).toBe(true);
    await expectOtsError(
      client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('mb3', [{ b: blob(2048) }]), putRow('mb4', [{ b: blob(2048) }])] }] }),
      400,
      'OTSParameterInvalid',
      'The total data size of BatchWriteRow request exceeds the limit, limit size: 4194304',
    );
    expect(emu.peekRow('jobs', ['mb3'])).toBeUndefined();
  });

  it('a missing table or a malformed row fails the whole request', async () => {
    await expectOtsError(client.batchWriteRow({ tables: [{ tableName: 'nope', rows: [putRow('a', [])] }] }), 404, 'OTSObjectNotExist');
    await expectOtsError(
      client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('good', [{ a: '1' }]), putRow('bad', [{ '#a': '1' }])] }] }),
      400,
      'OTSParameterInvalid',
    );
    expect(emu.peekRow('jobs', ['good'])).toBeUndefined();
  });

  it('one primary key twice in a table fails the whole request (OTSParameterInvalid), with or without conditions', async () => {
    for (const second of [putRow('twice', [{ a: '2' }]), putRow('twice', [{ a: '2' }], new Condition(RE.EXPECT_NOT_EXIST, null))]) {
      await expectOtsError(
        client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('other', [{ a: '0' }]), putRow('twice', [{ a: '1' }]), second] }] }),
        400,
        'OTSParameterInvalid',
        'The input parameter is invalid.',
      );
    }
    expect(emu.peekRow('jobs', ['twice'])).toBeUndefined();
    expect(emu.peekRow('jobs', ['other'])).toBeUndefined();
    // The same key in two tables is two rows.
    await client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('twice', [{ a: '1' }])] }, { tableName: 'slots', rows: [{ type: 'PUT', condition: ignore(), primaryKey: [{ slot: Long.fromNumber(1) }], attributeColumns: [] as never }] }] });
  });

  it("under repeatedRowsInBatchWrite: 'allow', repeated rows apply in order (the last wins) but may not carry a condition", async () => {
    const allowing = await start({ repeatedRowsInBatchWrite: 'allow' });
    try {
      await createTable(allowing.client, 'jobs', [['id', 'STRING']]);
      await expectOtsError(
        allowing.client.batchWriteRow({
          tables: [{ tableName: 'jobs', rows: [putRow('twice', [{ a: '1' }]), putRow('twice', [{ a: '2' }], new Condition(RE.EXPECT_NOT_EXIST, null))] }],
        }),
        400,
        'OTSParameterInvalid',
        'Repeated rows do not support row exist expectation check in BatchModify.',
      );
      await allowing.client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('twice', [{ a: '1' }]), putRow('twice', [{ a: '2' }])] }] });
      expect(allowing.emu.peekRow('jobs', ['twice'])?.attributes).toEqual({ a: '2' });
    } finally {
      await allowing.emu.close();
    }
  });

  it('is recorded as ots:BatchWriteRow with the rows written', async () => {
    emu.records.length = 0;
    await client.batchWriteRow({
      tables: [{ tableName: 'jobs', rows: [putRow('rec1', [], new Condition(RE.EXPECT_NOT_EXIST, null)), putRow('rec1', [])] }],
    }).catch(() => undefined);
    await client.batchWriteRow({ tables: [{ tableName: 'jobs', rows: [putRow('rec1', []), putRow('rec2', [])] }] });
    expect(emu.records.map((r) => [r.action, r.status, r.table, r.rowsWritten])).toEqual([
      ['ots:BatchWriteRow', 400, 'jobs', 0],
      ['ots:BatchWriteRow', 200, 'jobs', 2],
    ]);
  });
});

describe('BatchGetRow', () => {
  beforeAll(async () => {
    await client.batchWriteRow({
      tables: [{ tableName: 'jobs', rows: ['g1', 'g2', 'g3'].map((id) => putRow(id, [{ status: id === 'g2' ? 'DONE' : 'QUEUED' }, { n: Long.fromNumber(1) }])) }],
    });
  });

  it('answers per table and per row, in request order; a missing row is ok with no row', async () => {
    const r = await client.batchGetRow({
      tables: [
        { tableName: 'jobs', primaryKey: [[{ id: 'g3' }], [{ id: 'absent' }], [{ id: 'g1' }]], columnsToGet: ['status'] },
        { tableName: 'slots', primaryKey: [[{ slot: Long.fromNumber(0) }]] },
      ],
    });
    expect(r.tables).toHaveLength(2);
    const jobs = r.tables[0]!;
    expect(jobs.map((row) => [row.isOk, pkValues(row), attrs(row)])).toEqual([
      [true, ['g3'], { status: 'QUEUED' }],
      [true, [], {}],
      [true, ['g1'], { status: 'QUEUED' }],
    ]);
    expect(jobs[1]!.primaryKey).toBeNull();
    expect(r.tables[1]![0]!.tableName).toBe('slots');
  });

  it('applies the column filter per row', async () => {
    const r = await client.batchGetRow({
      tables: [{ tableName: 'jobs', primaryKey: [[{ id: 'g1' }], [{ id: 'g2' }]], columnFilter: new SingleColumnCondition('status', 'DONE', CT.EQUAL, false) }],
    });
    expect(r.tables[0]!.map((row) => pkValues(row))).toEqual([[], ['g2']]);
  });

  it('a key that does not match the schema fails only its row', async () => {
    const r = await client.batchGetRow({ tables: [{ tableName: 'jobs', primaryKey: [[{ id: 'g1' }], [{ other: 'x' }]] }] });
    expect(r.tables[0]!.map((row) => [row.isOk, row.errorCode])).toEqual([
      [true, null],
      [false, 'OTSInvalidPK'],
    ]);
  });

  it('100 rows is the limit', async () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => [{ id: `k${i}` }]);
    const ok = await client.batchGetRow({ tables: [{ tableName: 'jobs', primaryKey: keys(100) }] });
    expect(ok.tables[0]).toHaveLength(100);
    await expectOtsError(client.batchGetRow({ tables: [{ tableName: 'jobs', primaryKey: keys(101) }] }), 400, 'OTSParameterInvalid', 'Rows count exceeds the upper limit: 100.');
  });

  it('a missing table fails the request', async () => {
    await expectOtsError(client.batchGetRow({ tables: [{ tableName: 'nope', primaryKey: [[{ id: 'a' }]] }] }), 404, 'OTSObjectNotExist');
  });
});
