/** Table operations through the real SDK: CreateTable, DescribeTable, ListTable, UpdateTable, DeleteTable. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { Condition, RE, TableStore, createTable, expectOtsError, start, str, type Client } from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;

beforeAll(async () => {
  ({ emu, client } = await start());
});
afterAll(() => emu.close());

const create = (tableName: string, tableOptions: object, extra: object = {}) =>
  client.createTable({
    tableMeta: { tableName, primaryKey: [{ name: 'id', type: 'STRING' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: tableOptions as never,
    ...extra,
  });

describe('tables', () => {
  it('creates a table with options, reserved throughput and defined columns, and describes it', async () => {
    await client.createTable({
      tableMeta: {
        tableName: 'sketchflow_jobs',
        primaryKey: [
          { name: 'pk', type: 'STRING' },
          { name: 'seq', type: TableStore.PrimaryKeyType.INTEGER },
          { name: 'raw', type: 'BINARY' },
        ],
        definedColumn: [{ name: 'status', type: TableStore.DefinedColumnType.DCT_STRING }],
      },
      reservedThroughput: { capacityUnit: { read: 1, write: 2 } },
      tableOptions: { timeToLive: 86400 * 7, maxVersions: 1, maxTimeDeviation: 3600 } as never,
    });
    const d = (await client.describeTable({ tableName: 'sketchflow_jobs' })) as unknown as {
      tableMeta: { tableName: string; primaryKey: Array<{ name: string; type: number }>; definedColumn: Array<{ name: string }> };
      reservedThroughputDetails: { capacityUnit: { read: number; write: number } };
      tableOptions: { timeToLive: number; maxVersions: number; deviationCellVersionInSec: unknown; allowUpdate: boolean };
      tableStatus: number;
    };
    expect(d.tableMeta.tableName).toBe('sketchflow_jobs');
    expect(d.tableMeta.primaryKey.map((p) => [p.name, p.type])).toEqual([
      ['pk', 2],
      ['seq', 1],
      ['raw', 3],
    ]);
    expect(d.tableMeta.definedColumn.map((c) => c.name)).toEqual(['status']);
    expect(d.reservedThroughputDetails.capacityUnit).toEqual({ read: 1, write: 2 });
    expect(d.tableOptions.timeToLive).toBe(604800);
    expect(d.tableOptions.maxVersions).toBe(1);
    expect(str(d.tableOptions.deviationCellVersionInSec)).toBe('3600');
    expect(d.tableOptions.allowUpdate).toBe(true);
    expect(d.tableStatus).toBe(1); // ACTIVE
  });

  it('lists tables; a second create is OTSObjectAlreadyExist (409)', async () => {
    await createTable(client, 'second', [['id', 'STRING']]);
    expect((await client.listTable({})).tableNames).toEqual(['second', 'sketchflow_jobs']);
    await expectOtsError(createTable(client, 'second', [['id', 'STRING']]), 409, 'OTSObjectAlreadyExist', 'Requested table already exists.');
  });

  it('deletes a table with its rows; deleting or describing a missing table is OTSObjectNotExist (404)', async () => {
    await createTable(client, 'doomed', [['id', 'STRING']]);
    await client.putRow({ tableName: 'doomed', primaryKey: [{ id: 'a' }], attributeColumns: [{ v: '1' }], condition: new Condition(RE.IGNORE, null) });
    await client.deleteTable({ tableName: 'doomed' });
    expect((await client.listTable({})).tableNames).not.toContain('doomed');
    await expectOtsError(client.deleteTable({ tableName: 'doomed' }), 404, 'OTSObjectNotExist');
    await expectOtsError(client.describeTable({ tableName: 'doomed' }), 404, 'OTSObjectNotExist');
    await createTable(client, 'doomed', [['id', 'STRING']]);
    expect(emu.rowCount('doomed')).toBe(0);
  });

  it('updates table options', async () => {
    await client.updateTable({ tableName: 'second', tableOptions: { timeToLive: 86400 * 2 } as never });
    const d = (await client.describeTable({ tableName: 'second' })) as unknown as { tableOptions: { timeToLive: number; maxVersions: number } };
    expect(d.tableOptions).toMatchObject({ timeToLive: 172800, maxVersions: 1 });
  });

  it('allowUpdate=false refuses UpdateRow', async () => {
    await create('frozen', { timeToLive: -1, maxVersions: 1, allowUpdate: false });
    await expectOtsError(
      client.updateRow({
        tableName: 'frozen',
        primaryKey: [{ id: 'a' }],
        condition: new Condition(RE.IGNORE, null),
        updateOfAttributeColumns: [{ PUT: [{ v: '1' }] }],
      }),
      400,
      'OTSParameterInvalid',
    );
  });

  it('validates the schema and options like the service', async () => {
    await expectOtsError(create('bad-name', { timeToLive: -1, maxVersions: 1 }), 400, 'OTSParameterInvalid', "Invalid table name: 'bad-name'.");
    await expectOtsError(create('no_ttl', { maxVersions: 1 }), 400, 'OTSParameterInvalid', 'Time-to-live is missing while creating table.');
    await expectOtsError(create('no_versions', { timeToLive: -1 }), 400, 'OTSParameterInvalid', 'MaxVersions is missing while creating table.');
    await expectOtsError(create('zero_ttl', { timeToLive: 0, maxVersions: 1 }), 400, 'OTSParameterInvalid', 'TimeToLive cannot be 0 or less than -1.');
    await expectOtsError(create('short_ttl', { timeToLive: 3600, maxVersions: 1 }), 400, 'OTSParameterInvalid', '86400');
    await expectOtsError(create('zero_versions', { timeToLive: -1, maxVersions: 0 }), 400, 'OTSParameterInvalid');
    await expectOtsError(
      client.createTable({
        tableMeta: { tableName: 'five_pks', primaryKey: ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, type: 'STRING' as const })) },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      }),
      400,
      'OTSParameterInvalid',
      'The number of primary key columns must be in range: [1, 4].',
    );
    // Deviations, refused loudly rather than half-emulated:
    await expectOtsError(
      create('with_index', { timeToLive: -1, maxVersions: 1 }, { indexMetas: [{ name: 'idx', primaryKey: ['status'], definedColumn: [] }] }),
      400,
      'OTSParameterInvalid',
      'Secondary indexes are not supported',
    );
    await expectOtsError(
      client.createTable({
        tableMeta: { tableName: 'auto', primaryKey: [{ name: 'a', type: 'STRING' }, { name: 'n', type: 'INTEGER', option: 'AUTO_INCREMENT' }] },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      }),
      400,
      'OTSParameterInvalid',
      'AUTO_INCREMENT',
    );
    expect((await client.listTable({})).tableNames).toEqual(['doomed', 'frozen', 'second', 'sketchflow_jobs']);
  });

  it('records RAM actions for table operations', async () => {
    emu.records.length = 0;
    await client.listTable({});
    await client.describeTable({ tableName: 'second' });
    await client.describeTable({ tableName: 'nope' }).catch(() => undefined);
    expect(emu.records.map((r) => [r.action, r.operation, r.table, r.status, r.errorCode])).toEqual([
      ['ots:ListTable', 'ListTable', undefined, 200, undefined],
      ['ots:DescribeTable', 'DescribeTable', 'second', 200, undefined],
      ['ots:DescribeTable', 'DescribeTable', 'nope', 404, 'OTSObjectNotExist'],
    ]);
  });
});
