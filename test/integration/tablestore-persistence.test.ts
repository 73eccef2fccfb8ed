/** The state file: job state survives a restart, exactly (64-bit integers, binaries, doubles). */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PrimaryKeyInput } from 'tablestore';
import { startTablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { CredentialStore } from '../../lib/local/credentials.js';
import { Condition, INF_MAX, INF_MIN, Long, RE, attrs, clientFor, createTable, expectOtsError, pkValues } from './tablestore-helpers.js';

let dir: string;
let stateFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ots-state-'));
  stateFile = path.join(dir, '.sketchflow', 'tablestore.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('persistence', () => {
  it('keeps tables and rows across a restart, values exact', async () => {
    const credentials = new CredentialStore();
    const first = await startTablestoreEmulator({ stateFile, credentials });
    const c1 = clientFor(first);
    await createTable(c1, 'jobs', [['shard', 'INTEGER'], ['key', 'BINARY']], 86400 * 30);
    const pk: PrimaryKeyInput = [{ shard: Long.fromString('-9223372036854775808') }, { key: Buffer.from([0, 1, 254, 255]) }];
    await c1.putRow({
      tableName: 'jobs',
      primaryKey: pk,
      attributeColumns: [
        { max: Long.fromString('9223372036854775807') },
        { d: 0.1 + 0.2 },
        { neg0: -0 },
        { s: 'zürich ✓' },
        { b: Buffer.from('00ff', 'hex') },
        { yes: true },
      ],
      condition: new Condition(RE.EXPECT_NOT_EXIST, null),
    });
    await c1.putRow({ tableName: 'jobs', primaryKey: [{ shard: Long.fromNumber(1) }, { key: Buffer.from('a') }], attributeColumns: [], condition: new Condition(RE.IGNORE, null) });
    await first.close();

    const second = await startTablestoreEmulator({ stateFile, credentials });
    try {
      const c2 = clientFor(second);
      expect((await c2.listTable({})).tableNames).toEqual(['jobs']);
      const row = (await c2.getRow({ tableName: 'jobs', primaryKey: pk })).row;
      expect(pkValues(row)).toEqual(['-9223372036854775808', Buffer.from([0, 1, 254, 255])]);
      expect(attrs(row)).toEqual({ max: '9223372036854775807', d: 0.30000000000000004, neg0: -0, s: 'zürich ✓', b: Buffer.from('00ff', 'hex'), yes: true });
      expect(Object.is(attrs(row).neg0, -0)).toBe(true);
      // Key order survives too, and the conditional-write state: the row still exists.
      const range = await c2.getRange({
        tableName: 'jobs',
        direction: 'FORWARD',
        inclusiveStartPrimaryKey: [{ shard: INF_MIN }, { key: INF_MIN }],
        exclusiveEndPrimaryKey: [{ shard: INF_MAX }, { key: INF_MAX }],
      });
      expect(range.rows.map((r) => pkValues(r)[0])).toEqual(['-9223372036854775808', '1']);
      await expectOtsError(
        c2.putRow({ tableName: 'jobs', primaryKey: pk, attributeColumns: [], condition: new Condition(RE.EXPECT_NOT_EXIST, null) }),
        403,
        'OTSConditionCheckFail',
      );
      const described = (await c2.describeTable({ tableName: 'jobs' })) as unknown as { tableOptions: { timeToLive: number } };
      expect(described.tableOptions.timeToLive).toBe(86400 * 30);
    } finally {
      await second.close();
    }
  });

  it('writes debounced, atomically (no temp files left), and flush() writes at once', async () => {
    const emu = await startTablestoreEmulator({ stateFile, persistDebounceMs: 10_000 });
    try {
      const c = clientFor(emu);
      await createTable(c, 'jobs', [['id', 'STRING']]);
      for (let i = 0; i < 20; i++) {
        await c.putRow({ tableName: 'jobs', primaryKey: [{ id: `r${i}` }], attributeColumns: [{ i: Long.fromNumber(i) }], condition: new Condition(RE.IGNORE, null) });
      }
      expect(await readdir(dir)).toEqual([]); // nothing yet: the write is debounced
      await emu.flush();
      const state = JSON.parse(await readFile(stateFile, 'utf8')) as { format: string; tables: Array<{ rows: unknown[] }> };
      expect(state.format).toBe('sketchflow-tablestore/1');
      expect(state.tables[0]!.rows).toHaveLength(20);
      expect(await readdir(path.dirname(stateFile))).toEqual(['tablestore.json']);
    } finally {
      await emu.close();
    }
  });

  it('reads do not rewrite the file; memory mode writes nothing', async () => {
    const emu = await startTablestoreEmulator({ stateFile });
    const c = clientFor(emu);
    await createTable(c, 'jobs', [['id', 'STRING']]);
    await emu.flush();
    const before = (await stat(stateFile)).mtimeMs;
    await c.getRow({ tableName: 'jobs', primaryKey: [{ id: 'a' }] });
    await c.listTable({});
    await emu.close();
    expect((await stat(stateFile)).mtimeMs).toBe(before);

    await rm(path.dirname(stateFile), { recursive: true });
    const mem = await startTablestoreEmulator();
    await createTable(clientFor(mem), 'jobs', [['id', 'STRING']]);
    await mem.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to start on a state file it cannot read, rather than losing it', async () => {
    await writeFile(path.join(dir, 'broken.json'), '{"format": "sketchflow-tablestore/1", "tables": [');
    await expect(startTablestoreEmulator({ stateFile: path.join(dir, 'broken.json') })).rejects.toThrow(/cannot load state file/);
  });
});
