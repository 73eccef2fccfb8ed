/**
 * Injected faults as the real SDK surfaces them. The SDK retries only read ("repeatable") APIs,
 * only for numeric 500/502/503 and NetworkingError, and maxRetries is process-global (each
 * request copies its client's maxRetries into TableStore.DefaultRetryPolicy.maxRetryTimes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { Condition, RE, TableStore, attrs, clientFor, createTable, expectOtsError, start, type Client } from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;

beforeAll(async () => {
  ({ emu, client } = await start());
  await createTable(client, 'jobs', [['id', 'STRING']]);
  await client.putRow({ tableName: 'jobs', primaryKey: [{ id: 'a' }], attributeColumns: [{ v: '1' }], condition: new Condition(RE.IGNORE, null) });
});
afterAll(() => emu.close());

const getA = (c: Client) => c.getRow({ tableName: 'jobs', primaryKey: [{ id: 'a' }] });
const putB = (c: Client) =>
  c.putRow({ tableName: 'jobs', primaryKey: [{ id: 'b' }], attributeColumns: [{ v: '2' }], condition: new Condition(RE.IGNORE, null) });
const calls = (operation: string) => emu.records.filter((r) => r.operation === operation);

describe('fault injection', () => {
  it('busy: 503 OTSServerBusy; a write is never retried by the SDK, even with retries on', async () => {
    emu.records.length = 0;
    emu.injectFault({ operation: 'PutRow', count: 1, kind: 'busy' });
    const err = await expectOtsError(putB(clientFor(emu, { maxRetries: 3 })), 503, 'OTSServerBusy', 'Server is busy.');
    expect((err as Error & { retryable?: boolean }).retryable).toBe(false);
    expect(calls('PutRow').map((r) => [r.status, r.fault])).toEqual([[503, 'busy']]);
    expect(emu.peekRow('jobs', ['b'])).toBeUndefined();
    await putB(client); // the fault is used up
    expect(emu.peekRow('jobs', ['b'])).toBeDefined();
  });

  it('busy: a read is retried by the SDK (maxRetries) and then succeeds', async () => {
    emu.records.length = 0;
    emu.injectFault({ operation: 'GetRow', count: 2, kind: 'busy' });
    const row = await getA(clientFor(emu, { maxRetries: 2 }));
    expect(attrs(row.row)).toEqual({ v: '1' });
    expect(calls('GetRow').map((r) => r.status)).toEqual([503, 503, 200]);
    expect((TableStore as unknown as { DefaultRetryPolicy: { maxRetryTimes: number } }).DefaultRetryPolicy.maxRetryTimes).toBe(2); // the client's setting leaked into the global policy
  });

  it('busy with maxRetries 0: the read fails at once with code 503', async () => {
    emu.injectFault({ operation: 'getRow', count: 1, kind: 'busy' }); // SDK method names work too
    await expectOtsError(getA(client), 503, 'OTSServerBusy');
  });

  it('timeout: the request is held; the SDK gives up after httpOptions.timeout with NetworkingError', async () => {
    emu.records.length = 0;
    emu.injectFault({ operation: 'GetRow', count: 1, kind: 'timeout' });
    const c = clientFor(emu, { maxRetries: 0, httpOptions: { timeout: 300, maxSockets: 10 } });
    const err = (await getA(c).catch((e: unknown) => e)) as Error & { code?: unknown; retryable?: boolean };
    expect(err.code).toBe('NetworkingError');
    expect(err.message).toBe('Connection timed out after 300ms');
    expect(calls('GetRow').map((r) => [r.status, r.fault])).toEqual([[0, 'timeout']]);
  });

  it('reset: the socket is destroyed; the SDK surfaces NetworkingError and nothing was written', async () => {
    emu.injectFault({ operation: 'PutRow', count: 1, kind: 'reset' });
    const err = (await client
      .putRow({ tableName: 'jobs', primaryKey: [{ id: 'c' }], attributeColumns: [{ v: '3' }], condition: new Condition(RE.IGNORE, null) })
      .catch((e: unknown) => e)) as Error & { code?: unknown };
    expect(err.code).toBe('NetworkingError');
    expect(err.message).toMatch(/socket hang up|ECONNRESET/);
    expect(emu.peekRow('jobs', ['c'])).toBeUndefined();
  });

  it('reset on a read is retried as a NetworkingError when retries are on', async () => {
    emu.records.length = 0;
    emu.injectFault({ operation: 'GetRow', count: 1, kind: 'reset' });
    expect(attrs((await getA(clientFor(emu, { maxRetries: 1 }))).row)).toEqual({ v: '1' });
    expect(calls('GetRow').map((r) => r.status)).toEqual([0, 200]);
  });

  it('conflict: 409 OTSRowOperationConflict (the SDK does not retry it: it only knows numeric codes)', async () => {
    emu.injectFault({ count: 1, kind: 'conflict' });
    await expectOtsError(getA(clientFor(emu, { maxRetries: 2 })), 409, 'OTSRowOperationConflict', 'Data is being modified by the other request.');
  });

  it('a fault for one operation leaves the others alone; faults apply in order; clearFaults drops them', async () => {
    emu.injectFault({ operation: 'PutRow', count: 5, kind: 'busy' });
    expect((await client.listTable({})).tableNames).toEqual(['jobs']);
    await expectOtsError(putB(client), 503, 'OTSServerBusy');
    emu.clearFaults();
    await putB(client);
  });

  it('close() ends a held request and resolves', async () => {
    const { emu: e2, client: c2 } = await start();
    e2.injectFault({ count: 1, kind: 'timeout' });
    const pending = c2.listTable({}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await e2.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(((await pending) as { code?: unknown }).code).toBe('NetworkingError');
  });
});
