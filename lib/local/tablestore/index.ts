/**
 * Loopback Tablestore emulator (issue 3): the real `tablestore` SDK talks to it over HTTP as to
 * the service. CONTRACT — other modules rely on these names; additions only.
 */
import type { AddressInfo } from 'node:net';
import { CredentialStore } from '../credentials.js';
import { behaviourFrom, type TablestoreBehaviour } from './behaviour.js';
import { Database } from './database.js';
import { Faults, type Fault } from './faults.js';
import { peekRow, rowCount, type PeekedRow, type PeekKey } from './inspect.js';
import { Persister, load, serialize } from './persistence.js';
import { createTablestoreServer, type RequestRecord } from './server.js';

export type { Fault, FaultKind } from './faults.js';
export type { TablestoreBehaviour } from './behaviour.js';
export type { PeekedRow, PeekKey } from './inspect.js';

/** The switches for unconfirmed service behaviour (behaviour.ts, lib/local/README.md) are options too. */
export interface TablestoreEmulatorOptions extends Partial<TablestoreBehaviour> {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  instance?: string; // default 'sketchflow'
  credentials?: CredentialStore; // default: a new store with one generated key
  /** Persist tables to this JSON file (loaded at start, written after each change, debounced). */
  stateFile?: string;
  now?: () => number;
  /** Debounce of state-file writes, ms (default 50). */
  persistDebounceMs?: number;
}

export type TablestoreRequestRecord = RequestRecord;

export interface TablestoreEmulator {
  endpoint: string; // http://127.0.0.1:PORT
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
  credentials: CredentialStore;
  readonly records: TablestoreRequestRecord[];
  /** Make the next `count` calls of `operation` (or any operation) fail. */
  injectFault(fault: Fault): void;
  clearFaults(): void;
  /** A row as stored now (TTL applied), or undefined. Integers come back as bigint. */
  peekRow(table: string, key: PeekKey): PeekedRow | undefined;
  rowCount(table: string): number;
  tableNames(): string[];
  /** Writes the state file now (no-op in memory mode). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Instance names: 3–16 characters, letters, digits and hyphens, starting with a letter. */
const INSTANCE_NAME = /^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$/;

export async function startTablestoreEmulator(options: TablestoreEmulatorOptions = {}): Promise<TablestoreEmulator> {
  const now = options.now ?? Date.now;
  const instance = options.instance ?? 'sketchflow';
  if (!INSTANCE_NAME.test(instance)) throw new Error(`invalid Tablestore instance name: ${instance}`);
  const behaviour = behaviourFrom({
    repeatedRowsInBatchWrite: options.repeatedRowsInBatchWrite,
    rangePageRows: options.rangePageRows,
    rangePageBytes: options.rangePageBytes,
    rangeNextKeyAtEnd: options.rangeNextKeyAtEnd,
  });
  const credentials = options.credentials ?? new CredentialStore();
  const key = credentials.issueAccessKey();

  const db = new Database();
  let persister: Persister | undefined;
  if (options.stateFile) {
    load(options.stateFile, db);
    persister = new Persister(options.stateFile, () => serialize(db), options.persistDebounceMs ?? 50);
    db.onChange(() => persister!.schedule());
  }

  const faults = new Faults();
  const records: TablestoreRequestRecord[] = [];
  const server = createTablestoreServer({ db, faults, credentials, instance, now, records, behaviour });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    instance,
    accessKeyId: key.accessKeyId,
    accessKeySecret: key.accessKeySecret,
    credentials,
    records,
    injectFault: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
    peekRow: (table, pk) => peekRow(db, table, pk, now()),
    rowCount: (table) => rowCount(db, table, now()),
    tableNames: () => [...db.tables.keys()].sort(),
    flush: async () => {
      await persister?.flush();
    },
    close: () =>
      (closed ??= (async () => {
        // Held ("timeout") and keep-alive sockets would keep close() waiting: end them all.
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
        await persister?.flush();
      })()),
  };
}
