/**
 * Issue 15: column names must match [A-Za-z_][A-Za-z0-9_]{0,254} (Tablestore "Naming conventions
 * and data types"), for key and attribute columns, columns to get and filters alike. A CJK name
 * used to get a misleading "must be UTF8 encoding" (the Node SDK writes a name's UTF-16 length, so
 * the name arrives cut short); now every bad name gets the same OTSParameterInvalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { checkColumnName } from '../../lib/local/tablestore/validate.js';
import { CT, Condition, RE, SingleColumnCondition, attrs, createTable, expectOtsError, start, type Client } from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;

beforeAll(async () => {
  ({ emu, client } = await start());
  await createTable(client, 'jobs', [['id', 'STRING']]);
});
afterAll(() => emu.close());

const put = (column: string) =>
  client.putRow({ tableName: 'jobs', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'x' }], attributeColumns: [{ [column]: 'v' }] });

describe('column names', () => {
  it('letters, digits and underscores, not starting with a digit, up to 255 characters, are accepted', async () => {
    const names = ['status', '_private', 'Mixed_Case_9', 'a'.repeat(255)];
    await client.putRow({ tableName: 'jobs', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'x' }], attributeColumns: names.map((n) => ({ [n]: 'v' })) });
    const row = await client.getRow({ tableName: 'jobs', primaryKey: [{ id: 'x' }], maxVersions: 1 });
    expect(Object.keys(attrs(row.row))).toEqual(expect.arrayContaining(['status', '_private', 'Mixed_Case_9']));
  });

  it('anything else is OTSParameterInvalid "Invalid column name", CJK included', async () => {
    for (const name of ['状态', 'naïve', '9lives', 'with-dash', 'with space', 'dot.ted', 'a'.repeat(256)]) {
      await expectOtsError(put(name), 400, 'OTSParameterInvalid', 'Invalid column name');
    }
    expect(emu.peekRow('jobs', ['bad'])).toBeUndefined();
  });

  it('in UpdateRow, columns to get, column filters and CreateTable too', async () => {
    await expectOtsError(
      client.updateRow({ tableName: 'jobs', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'x' }], updateOfAttributeColumns: [{ PUT: [{ 'bad-name': 'v' }] }] }),
      400,
      'OTSParameterInvalid',
      'Invalid column name',
    );
    await expectOtsError(client.getRow({ tableName: 'jobs', primaryKey: [{ id: 'x' }], columnsToGet: ['bad-name'] }), 400, 'OTSParameterInvalid', 'Invalid column name');
    await expectOtsError(
      client.getRow({ tableName: 'jobs', primaryKey: [{ id: 'x' }], columnFilter: new SingleColumnCondition('bad-name', 'v', CT.EQUAL) }),
      400,
      'OTSParameterInvalid',
      'Invalid column name',
    );
    await expectOtsError(createTable(client, 'other', [['bad-key', 'STRING']]), 400, 'OTSParameterInvalid', 'Invalid column name');
  });

  it('a well-formed UTF-8 name (as other SDKs send it) is refused by the same check', () => {
    expect(() => checkColumnName('状态')).toThrow("Invalid column name: '状态'.");
  });
});
