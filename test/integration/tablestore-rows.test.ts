/**
 * Single-row operations through the real SDK: value types, conditions (row existence, single and
 * composite column conditions, pass-if-missing both ways), UpdateRow ops incl. INCREMENT with
 * return content, atomic conditional updates, schema and size errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import {
  CT,
  CompositeCondition,
  Condition,
  LO,
  Long,
  RE,
  SingleColumnCondition,
  TableStore,
  attrs,
  createTable,
  expectOtsError,
  pkValues,
  start,
  str,
  type Client,
} from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;
let clock = Date.UTC(2026, 0, 1);

beforeAll(async () => {
  ({ emu, client } = await start({ now: () => clock }));
  await createTable(client, 'jobs', [['id', 'STRING']]);
  await createTable(client, 'ttl_jobs', [['id', 'STRING']], 86400);
  await createTable(client, 'multi', [['a', 'INTEGER'], ['b', 'STRING'], ['c', 'BINARY']]);
});
afterAll(() => emu.close());

const ignore = () => new Condition(RE.IGNORE, null);
const put = (id: string, columns: Array<Record<string, unknown>>, condition = ignore()) =>
  client.putRow({ tableName: 'jobs', primaryKey: [{ id }], attributeColumns: columns as never, condition });
const get = async (id: string, extra: object = {}) => (await client.getRow({ tableName: 'jobs', primaryKey: [{ id }], ...extra })).row;

describe('PutRow / GetRow', () => {
  it('round-trips every attribute type; integers need Long, a plain number is a DOUBLE', async () => {
    await put('types', [
      { s: 'héllo ✓' },
      { i: Long.fromString('-9223372036854775808') },
      { big: Long.fromString('9223372036854775807') },
      { n: 7 },
      { d: 0.1 },
      { t: true },
      { f: false },
      { bin: Buffer.from([0, 255, 1]) },
    ]);
    const row = await get('types');
    expect(pkValues(row)).toEqual(['types']);
    expect(attrs(row)).toEqual({
      s: 'héllo ✓',
      i: '-9223372036854775808',
      big: '9223372036854775807',
      n: 7,
      d: 0.1,
      t: true,
      f: false,
      bin: Buffer.from([0, 255, 1]),
    });
    // Columns come back sorted by name; timestamps are the emulator clock.
    const r = row as { attributes: Array<{ columnName: string; timestamp: unknown }> };
    expect(r.attributes.map((a) => a.columnName)).toEqual(['big', 'bin', 'd', 'f', 'i', 'n', 's', 't']);
    expect(str(r.attributes[0]!.timestamp)).toBe(String(clock));
    // A JS number was stored as DOUBLE, so an INTEGER condition on it fails (types differ).
    expect(emu.peekRow('jobs', { id: 'types' })?.attributes).toMatchObject({ i: -(2n ** 63n), n: 7 });
  });

  it('a missing row reads as row: {}', async () => {
    expect(await get('nope')).toEqual({});
  });

  it('a second putRow with EXPECT_NOT_EXIST fails with OTSConditionCheckFail (403, code only in the message)', async () => {
    await put('once', [{ v: 'first' }], new Condition(RE.EXPECT_NOT_EXIST, null));
    const err = await expectOtsError(put('once', [{ v: 'second' }], new Condition(RE.EXPECT_NOT_EXIST, null)), 403, 'OTSConditionCheckFail');
    expect(err.message).toMatch(/Condition check failed\. requestId:/);
    expect(attrs(await get('once'))).toEqual({ v: 'first' });
  });

  it('putRow replaces the whole row; EXPECT_EXIST needs the row', async () => {
    await put('replace', [{ a: 'x' }, { b: 'y' }]);
    await put('replace', [{ c: 'z' }], new Condition(RE.EXPECT_EXIST, null));
    expect(attrs(await get('replace'))).toEqual({ c: 'z' });
    await expectOtsError(put('absent', [{ c: 'z' }], new Condition(RE.EXPECT_EXIST, null)), 403, 'OTSConditionCheckFail');
  });

  it('a row with only its primary key exists', async () => {
    await put('bare', []);
    expect(pkValues(await get('bare'))).toEqual(['bare']);
    await expectOtsError(put('bare', [], new Condition(RE.EXPECT_NOT_EXIST, null)), 403, 'OTSConditionCheckFail');
  });

  it('columnsToGet selects columns; a row holding none of them is not returned', async () => {
    await put('cols', [{ a: '1' }, { b: '2' }, { c: '3' }]);
    expect(attrs(await get('cols', { columnsToGet: ['a', 'c', 'zz'] }))).toEqual({ a: '1', c: '3' });
    expect(await get('cols', { columnsToGet: ['zz'] })).toEqual({});
    expect(pkValues(await get('cols', { columnsToGet: ['id'] }))).toEqual(['cols']);
  });

  it('putRow without a condition is a TypeError in the SDK (no request is sent)', async () => {
    const before = emu.records.length;
    await expect(client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'x' }], attributeColumns: [] } as never)).rejects.toThrow(TypeError);
    expect(emu.records.length).toBe(before);
  });
});

describe('column conditions', () => {
  const version = (v: number, passIfMissing?: boolean) => new SingleColumnCondition('version', Long.fromNumber(v), CT.EQUAL, passIfMissing);
  const bump = (id: string, condition: InstanceType<typeof Condition>, to: number) =>
    client.updateRow({
      tableName: 'jobs',
      primaryKey: [{ id }],
      condition,
      updateOfAttributeColumns: [{ PUT: [{ version: Long.fromNumber(to) }] }],
    });

  it('single condition: optimistic lock on a version column', async () => {
    await put('lock', [{ version: Long.fromNumber(1) }, { status: 'QUEUED' }]);
    await bump('lock', new Condition(RE.EXPECT_EXIST, version(1, false)), 2);
    await expectOtsError(bump('lock', new Condition(RE.EXPECT_EXIST, version(1, false)), 3), 403, 'OTSConditionCheckFail');
    expect(emu.peekRow('jobs', { id: 'lock' })?.attributes.version).toBe(2n);
  });

  it('passIfMissing defaults to true: a condition on a missing column passes', async () => {
    await put('nover', [{ status: 'QUEUED' }]);
    await bump('nover', new Condition(RE.EXPECT_EXIST, version(41)), 1); // passIfMissing default
    await put('nover2', [{ status: 'QUEUED' }]);
    await expectOtsError(bump('nover2', new Condition(RE.EXPECT_EXIST, version(41, false)), 1), 403, 'OTSConditionCheckFail');
  });

  it('a condition value of another type never passes', async () => {
    await put('typed', [{ version: Long.fromNumber(1) }]);
    await expectOtsError(
      bump('typed', new Condition(RE.EXPECT_EXIST, new SingleColumnCondition('version', 1, CT.EQUAL, false)), 2),
      403,
      'OTSConditionCheckFail',
    );
  });

  it('comparators order values by type (integers signed, strings bytewise)', async () => {
    await put('cmp', [{ n: Long.fromNumber(-5) }, { s: 'b' }]);
    const pass = async (c: InstanceType<typeof SingleColumnCondition>) =>
      bump('cmp', new Condition(RE.EXPECT_EXIST, c), 1).then(
        () => true,
        () => false,
      );
    expect(await pass(new SingleColumnCondition('n', Long.fromNumber(-6), CT.GREATER_THAN, false))).toBe(true);
    expect(await pass(new SingleColumnCondition('n', Long.fromNumber(0), CT.LESS_THAN, false))).toBe(true);
    expect(await pass(new SingleColumnCondition('n', Long.fromNumber(-5), CT.GREATER_EQUAL, false))).toBe(true);
    expect(await pass(new SingleColumnCondition('n', Long.fromNumber(-5), CT.NOT_EQUAL, false))).toBe(false);
    expect(await pass(new SingleColumnCondition('s', 'a', CT.GREATER_THAN, false))).toBe(true);
    expect(await pass(new SingleColumnCondition('s', 'b', CT.LESS_EQUAL, false))).toBe(true);
    expect(await pass(new SingleColumnCondition('s', 'c', CT.GREATER_EQUAL, false))).toBe(false);
  });

  it('composite AND / OR / NOT (a lease claim: QUEUED, or RUNNING with an expired lease)', async () => {
    const claim = () => {
      const expired = new CompositeCondition(LO.AND);
      expired.addSubCondition(new SingleColumnCondition('status', 'RUNNING', CT.EQUAL, false));
      expired.addSubCondition(new SingleColumnCondition('lease_until', Long.fromNumber(1000), CT.LESS_THAN, false));
      const either = new CompositeCondition(LO.OR);
      either.addSubCondition(new SingleColumnCondition('status', 'QUEUED', CT.EQUAL, false));
      either.addSubCondition(expired);
      return new Condition(RE.EXPECT_EXIST, either);
    };
    await put('lease', [{ status: 'RUNNING' }, { lease_until: Long.fromNumber(5000) }]);
    await expectOtsError(bump('lease', claim(), 1), 403, 'OTSConditionCheckFail');
    await put('lease', [{ status: 'RUNNING' }, { lease_until: Long.fromNumber(500) }]);
    await bump('lease', claim(), 1);
    await put('lease', [{ status: 'QUEUED' }]);
    await bump('lease', claim(), 1);

    const not = new CompositeCondition(LO.NOT);
    not.addSubCondition(new SingleColumnCondition('status', 'DONE', CT.EQUAL, false));
    await bump('lease', new Condition(RE.IGNORE, not), 2);
    await put('lease', [{ status: 'DONE' }]);
    await expectOtsError(bump('lease', new Condition(RE.IGNORE, not), 3), 403, 'OTSConditionCheckFail');
  });

  it('AND/OR need two sub-conditions; a malformed condition is OTSParameterInvalid', async () => {
    const lonely = new CompositeCondition(LO.AND);
    lonely.addSubCondition(new SingleColumnCondition('status', 'x', CT.EQUAL));
    await expectOtsError(bump('lease', new Condition(RE.IGNORE, lonely), 1), 400, 'OTSParameterInvalid', 'sub-filters');
  });

  it('the same evaluator filters reads (GetRow columnFilter), seeing only the columns read', async () => {
    await put('filtered', [{ status: 'DONE' }, { n: Long.fromNumber(3) }]);
    const f = (v: string, pim?: boolean) => new SingleColumnCondition('status', v, CT.EQUAL, pim);
    expect(attrs(await get('filtered', { columnFilter: f('DONE') }))).toEqual({ status: 'DONE', n: '3' });
    expect(await get('filtered', { columnFilter: f('QUEUED') })).toEqual({});
    // status is not read, so the filter sees it missing: passes by default, fails with passIfMissing=false.
    expect(attrs(await get('filtered', { columnsToGet: ['n'], columnFilter: f('QUEUED') }))).toEqual({ n: '3' });
    expect(await get('filtered', { columnsToGet: ['n'], columnFilter: f('DONE', false) })).toEqual({});
  });

  it('ColumnPaginationFilter pages the columns of a row', async () => {
    await put('wide', [{ c1: '1' }, { c2: '2' }, { c3: '3' }, { c4: '4' }]);
    const pagination = new TableStore.ColumnPaginationFilter(2, 1);
    expect(attrs(await get('wide', { columnFilter: pagination }))).toEqual({ c2: '2', c3: '3' });
  });
});

describe('UpdateRow', () => {
  it('PUT, DELETE (one version), DELETE_ALL; creates the row under IGNORE', async () => {
    await client.updateRow({
      tableName: 'jobs',
      primaryKey: [{ id: 'upd' }],
      condition: new Condition(RE.IGNORE, null),
      updateOfAttributeColumns: [{ PUT: [{ a: 'x' }, { b: 'y' }, { c: 'z' }] }],
    });
    await client.updateRow({
      tableName: 'jobs',
      primaryKey: [{ id: 'upd' }],
      condition: new Condition(RE.EXPECT_EXIST, null),
      updateOfAttributeColumns: [{ DELETE_ALL: ['a'] }, { DELETE: [{ b: clock - 1 }] as never }, { DELETE: [{ c: clock }] as never }],
    });
    // Only the version at exactly `clock` of c was deleted; b's version differs and stays.
    expect(attrs(await get('upd'))).toEqual({ b: 'y' });
  });

  it('an update that leaves no cells on a row it created leaves no row', async () => {
    await client.updateRow({
      tableName: 'jobs',
      primaryKey: [{ id: 'ghost' }],
      condition: new Condition(RE.IGNORE, null),
      updateOfAttributeColumns: [{ DELETE_ALL: ['a'] }],
    });
    expect(await get('ghost')).toEqual({});
  });

  it('INCREMENT is atomic and returns the new value with returnContent AfterModify', async () => {
    const inc = (by: number) =>
      client.updateRow({
        tableName: 'jobs',
        primaryKey: [{ id: 'counter' }],
        condition: new Condition(RE.IGNORE, null),
        updateOfAttributeColumns: [{ INCREMENT: [{ attempts: Long.fromNumber(by) }] }, { PUT: [{ note: 'n' }] }],
        returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: ['attempts'] },
      });
    const first = await inc(1); // missing column counts as 0
    expect(attrs(first.row)).toEqual({ attempts: '1' });
    expect(pkValues(first.row)).toEqual(['counter']);
    const results = await Promise.all(Array.from({ length: 10 }, () => inc(2)));
    expect(results.map((r) => attrs(r.row).attempts).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(3 + 2 * i)),
    );
    expect(emu.peekRow('jobs', { id: 'counter' })?.attributes.attempts).toBe(21n);
  });

  it('INCREMENT of a non-integer column is OTSParameterInvalid and changes nothing', async () => {
    await put('incstr', [{ attempts: 'three' }, { other: 'kept' }]);
    await expectOtsError(
      client.updateRow({
        tableName: 'jobs',
        primaryKey: [{ id: 'incstr' }],
        condition: new Condition(RE.IGNORE, null),
        updateOfAttributeColumns: [{ PUT: [{ other: 'changed' }] }, { INCREMENT: [{ attempts: Long.fromNumber(1) }] }],
      }),
      400,
      'OTSParameterInvalid',
    );
    expect(attrs(await get('incstr'))).toEqual({ attempts: 'three', other: 'kept' });
  });

  it('returnContent Primarykey returns the key on put, update and delete', async () => {
    const rc = { returnType: TableStore.ReturnType.Primarykey };
    const p = await client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'rc' }], attributeColumns: [{ a: '1' }], condition: ignore(), returnContent: rc });
    expect(pkValues(p.row)).toEqual(['rc']);
    const d = await client.deleteRow({ tableName: 'jobs', primaryKey: [{ id: 'rc' }], condition: ignore(), returnContent: rc } as never);
    expect(pkValues((d as { row: unknown }).row)).toEqual(['rc']);
  });

  it('20 concurrent conditional updates of one row: exactly one winner', async () => {
    await put('race', [{ version: Long.fromNumber(1) }, { owner: 'nobody' }]);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        client.updateRow({
          tableName: 'jobs',
          primaryKey: [{ id: 'race' }],
          condition: new Condition(RE.EXPECT_EXIST, new SingleColumnCondition('version', Long.fromNumber(1), CT.EQUAL, false)),
          updateOfAttributeColumns: [{ PUT: [{ version: Long.fromNumber(2) }, { owner: `worker-${i}` }] }],
        }),
      ),
    );
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(String(o.reason.message)).toContain('OTSConditionCheckFail');
    expect(emu.peekRow('jobs', { id: 'race' })?.attributes).toEqual({ version: 2n, owner: `worker-${winners[0]}` });
  });
});

describe('DeleteRow', () => {
  it('deletes; EXPECT_EXIST on a missing row fails; column conditions apply', async () => {
    await put('del', [{ status: 'DONE' }]);
    await expectOtsError(
      client.deleteRow({
        tableName: 'jobs',
        primaryKey: [{ id: 'del' }],
        condition: new Condition(RE.EXPECT_EXIST, new SingleColumnCondition('status', 'QUEUED', CT.EQUAL, false)),
      }),
      403,
      'OTSConditionCheckFail',
    );
    await client.deleteRow({ tableName: 'jobs', primaryKey: [{ id: 'del' }], condition: new Condition(RE.EXPECT_EXIST, null) });
    expect(await get('del')).toEqual({});
    await expectOtsError(
      client.deleteRow({ tableName: 'jobs', primaryKey: [{ id: 'del' }], condition: new Condition(RE.EXPECT_EXIST, null) }),
      403,
      'OTSConditionCheckFail',
    );
    await client.deleteRow({ tableName: 'jobs', primaryKey: [{ id: 'del' }], condition: ignore() });
  });
});

describe('errors', () => {
  it('a missing table is OTSObjectNotExist (404)', async () => {
    await expectOtsError(client.getRow({ tableName: 'missing', primaryKey: [{ id: 'a' }] }), 404, 'OTSObjectNotExist', 'Requested table does not exist.');
    await expectOtsError(
      client.putRow({ tableName: 'missing', primaryKey: [{ id: 'a' }], attributeColumns: [], condition: ignore() }),
      404,
      'OTSObjectNotExist',
    );
  });

  it('a key that does not match the schema is OTSInvalidPK (400), as the service answers', async () => {
    await expectOtsError(client.getRow({ tableName: 'jobs', primaryKey: [{ key: 'a' }] }), 400, 'OTSInvalidPK', 'Validate PK name fail. Input: key, Meta: id.');
    await expectOtsError(
      client.putRow({ tableName: 'jobs', primaryKey: [{ id: Long.fromNumber(1) }], attributeColumns: [], condition: ignore() }),
      400,
      'OTSInvalidPK',
      'Validate PK type fail. Input: VT_INTEGER, Meta: VT_STRING.',
    );
    await expectOtsError(
      client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'a' }, { extra: 'b' }], attributeColumns: [], condition: ignore() }),
      400,
      'OTSInvalidPK',
      'Validate PK size fail. Input: 2, Meta: 1.',
    );
  });

  it('the SDK refuses a plain number as a key before sending (integer keys need Long)', async () => {
    await expect(client.getRow({ tableName: 'multi', primaryKey: [{ a: 5 }, { b: 'x' }, { c: Buffer.alloc(1) }] })).rejects.toThrow(
      /Unsupported primary key type/,
    );
  });

  it('oversized values and bad names are OTSParameterInvalid (400)', async () => {
    await expectOtsError(
      put('x'.repeat(1025), [{ a: '1' }]),
      400,
      'OTSParameterInvalid',
      "The length of primary key column: 'id' exceeded the MaxLength:1024 with CurrentLength:1025.",
    );
    await put('k'.repeat(1024), [{ a: '1' }]);
    await expectOtsError(put('big', [{ blob: Buffer.alloc(2 * 1024 * 1024 + 1) }]), 400, 'OTSParameterInvalid', 'exceeded the MaxLength:2097152');
    await put('big', [{ blob: Buffer.alloc(2 * 1024 * 1024) }]);
    await expectOtsError(put('nan', [{ d: Number.NaN }]), 400, 'OTSParameterInvalid', "NaN can't be set to double value.");
    await expectOtsError(put('dup', [{ id: 'x' }]), 400, 'OTSParameterInvalid', 'Duplicated attribute column name with primary key column');
    await expectOtsError(put('hash', [{ '#x': 'x' }]), 400, 'OTSParameterInvalid', "Invalid column name: '#x'.");
    await expectOtsError(client.getRow({ tableName: 'bad-name', primaryKey: [{ id: 'a' }] }), 400, 'OTSParameterInvalid', "Invalid table name: 'bad-name'.");
    await expectOtsError(
      client.getRow({ tableName: 'jobs', primaryKey: [{ id: TableStore.INF_MIN }] }),
      400,
      'OTSParameterInvalid',
      'VT_INF_MIN is an invalid type for the primary key.',
    );
  });

  it('an update with no columns is refused', async () => {
    await expectOtsError(
      client.updateRow({ tableName: 'jobs', primaryKey: [{ id: 'a' }], condition: ignore(), updateOfAttributeColumns: [] }),
      400,
      'OTSParameterInvalid',
      'missing cells',
    );
  });
});

describe('time', () => {
  it('cell timestamps come from the injected clock; explicit ones must be within the max deviation', async () => {
    clock += 1000;
    await put('ts', [{ a: '1' }, { b: '2', timestamp: clock - 3600_000 }]);
    expect(emu.peekRow('jobs', { id: 'ts' })?.timestamps).toEqual({ a: clock, b: clock - 3600_000 });
    await expectOtsError(put('ts', [{ b: '2', timestamp: clock - 2 * 86400_000 }]), 400, 'OTSParameterInvalid', 'Invalid timestamp');
  });

  it('table TTL hides cells older than the TTL, on the injected clock', async () => {
    const ttlPut = (id: string) =>
      client.putRow({ tableName: 'ttl_jobs', primaryKey: [{ id }], attributeColumns: [{ a: '1' }], condition: new Condition(RE.EXPECT_NOT_EXIST, null) });
    await ttlPut('old');
    clock += 86400_000 - 1;
    expect(emu.rowCount('ttl_jobs')).toBe(1);
    clock += 1;
    expect(emu.rowCount('ttl_jobs')).toBe(0);
    expect((await client.getRow({ tableName: 'ttl_jobs', primaryKey: [{ id: 'old' }] })).row).toEqual({});
    await ttlPut('old'); // the expired row no longer exists for EXPECT_NOT_EXIST
  });
});
