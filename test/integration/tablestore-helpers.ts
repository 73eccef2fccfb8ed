/**
 * Shared setup for the Tablestore emulator conformance tests: the real `tablestore` SDK pointed
 * at the emulator, and assertions on errors as the SDK really surfaces them (numeric HTTP status
 * in err.code, the OTS code only inside err.message).
 */
import TableStore from 'tablestore';
import { expect } from 'vitest';
import { startTablestoreEmulator, type TablestoreEmulator, type TablestoreEmulatorOptions } from '../../lib/local/tablestore/index.js';

export { TableStore };
export const { Long, Condition, SingleColumnCondition, CompositeCondition } = TableStore;
// Annotated: destructuring would widen the SDK's `unique symbol` types to `symbol`.
export const INF_MIN: typeof TableStore.INF_MIN = TableStore.INF_MIN;
export const INF_MAX: typeof TableStore.INF_MAX = TableStore.INF_MAX;
export const RE = TableStore.RowExistenceExpectation;
export const CT = TableStore.ComparatorType;
export const LO = TableStore.LogicalOperator;

export type Client = InstanceType<typeof TableStore.Client>;
type ClientOptions = ConstructorParameters<typeof TableStore.Client>[0];

/** A client for the emulator. maxRetries is process-global in the SDK: every client here sets it. */
export function clientFor(emu: TablestoreEmulator, overrides: Partial<NonNullable<ClientOptions>> = {}): Client {
  return new TableStore.Client({
    accessKeyId: emu.accessKeyId,
    secretAccessKey: emu.accessKeySecret,
    endpoint: emu.endpoint,
    instancename: emu.instance,
    maxRetries: 0,
    ...overrides,
  });
}

export async function start(options: TablestoreEmulatorOptions = {}): Promise<{ emu: TablestoreEmulator; client: Client }> {
  const emu = await startTablestoreEmulator(options);
  return { emu, client: clientFor(emu) };
}

export type PkSpec = Array<[string, 'STRING' | 'INTEGER' | 'BINARY']>;

export async function createTable(client: Client, tableName: string, pk: PkSpec, timeToLive = -1): Promise<void> {
  await client.createTable({
    tableMeta: { tableName, primaryKey: pk.map(([name, type]) => ({ name, type })) },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive, maxVersions: 1 },
  });
}

/** The OTS error code the SDK hides in err.message (the adapter must parse it the same way). */
export function otsCode(err: unknown): string | undefined {
  return /OTS[A-Za-z]+/.exec(String((err as { message?: unknown })?.message))?.[0];
}

/** Awaits a rejection and checks it as the SDK surfaces it: err.code = status, message holds the code. */
export async function expectOtsError(promise: Promise<unknown>, status: number, code: string, messagePart?: string): Promise<Error> {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e as Error & { code?: unknown },
  );
  expect((err as { code?: unknown }).code).toBe(status);
  expect(otsCode(err)).toBe(code);
  if (messagePart) expect(err.message).toContain(messagePart);
  return err;
}

export const str = (v: unknown): string => (v === null || v === undefined ? String(v) : String((v as { toString(): string }).toString()));

/** Attribute columns of a read row as {name: value}, integers as decimal strings. */
export function attrs(row: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const list = (row as { attributes?: Array<{ columnName: string; columnValue: unknown }> } | null)?.attributes ?? [];
  for (const a of list) {
    const v = a.columnValue;
    out[a.columnName] = v !== null && typeof v === 'object' && !Buffer.isBuffer(v) ? str(v) : v;
  }
  return out;
}

/** The key of a read row as [values], integers as decimal strings. */
export function pkValues(row: unknown): unknown[] {
  const list = (row as { primaryKey?: Array<{ value: unknown }> } | null)?.primaryKey ?? [];
  return list.map((p) => (p.value !== null && typeof p.value === 'object' && !Buffer.isBuffer(p.value) ? str(p.value) : p.value));
}
