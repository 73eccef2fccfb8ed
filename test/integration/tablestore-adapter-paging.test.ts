/**
 * Our RowStore adapter (lib/adapters/tablestore.ts, the real `tablestore` SDK) under each reading
 * of GetRange paging no public source settles (lib/local/README.md): pages cut short by row count
 * or by size, and a next key sent even when the page ended exactly at the last row. The core reads
 * every kind of row by scan (the active index, the queue, a whole table for `status`); none may be
 * read twice or missed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRowStore, ensureTable } from '../../lib/adapters/tablestore.js';
import { Jobs } from '../../lib/core/jobs.js';
import { startTablestoreEmulator, type TablestoreEmulator } from '../../lib/local/tablestore/index.js';

let emu: TablestoreEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe.each([
  ['the documented caps', {}],
  ['one row a page', { rangePageRows: 1 }],
  ['pages cut by size', { rangePageBytes: 600 }],
  ['a next key at the very end', { rangeNextKeyAtEnd: 'send' as const, rangePageRows: 5 }],
])('GetRange paging: %s', (_name, behaviour) => {
  it('scanAll reads every row of a kind once, in id order, and no other kind', async () => {
    emu = await startTablestoreEmulator(behaviour);
    const settings = { endpoint: emu.endpoint, instance: emu.instance, table: 'sketchflow_jobs' };
    const keys = { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret };
    await ensureTable(settings, keys);
    const rows = createRowStore(settings, keys);
    const ids = Array.from({ length: 23 }, (_, i) => `q${String(i).padStart(3, '0')}`);
    for (const id of ids) await rows.put('queue', `m#${id}`, { jobId: id, pad: 'x'.repeat(100) }, 'any');
    await rows.put('slot', '00', { state: 'free' }, 'any');
    await rows.put('active', 'a', { jobId: 'a' }, 'any');
    const jobs = new Jobs(rows);
    expect((await jobs.scanAll<{ jobId: string }>('queue', 5)).map((r) => r.id)).toEqual(ids.map((id) => `m#${id}`));
    expect((await jobs.scanAll('active')).map((r) => r.id)).toEqual(['a']);
    // A short page is still a page: whatever comes first comes in order.
    const peek = await jobs.peekQueue('m', 4);
    expect(peek.length).toBeGreaterThan(0);
    expect(peek.map((r) => r.id)).toEqual(ids.slice(0, peek.length).map((id) => `m#${id}`));
    expect(await jobs.queueNotEmpty(['m'])).toBe(true);
  });
});
