/**
 * Loopback Tablestore emulator (issue 3). CONTRACT — other modules rely on exactly these names.
 */
import type { CredentialStore } from '../credentials.js';

export interface TablestoreEmulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  instance?: string; // default 'sketchflow'
  credentials?: CredentialStore; // default: a new store with one generated key
  /** Persist tables to this JSON file (loaded at start, written after each change, debounced). */
  stateFile?: string;
  now?: () => number;
}

export interface TablestoreRequestRecord {
  action: string; // RAM action name, e.g. 'ots:GetRow'
  operation: string; // protocol operation, e.g. 'GetRow'
  table?: string;
  status: number;
  rowsRead: number;
  rowsWritten: number;
  at: number;
}

export interface TablestoreEmulator {
  endpoint: string; // http://127.0.0.1:PORT
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
  credentials: CredentialStore;
  readonly records: TablestoreRequestRecord[];
  /** Make the next `count` calls of `operation` (or any operation) fail. */
  injectFault(fault: { operation?: string; count: number; kind: 'busy' | 'timeout' | 'reset' }): void;
  close(): Promise<void>;
}

export async function startTablestoreEmulator(_options: TablestoreEmulatorOptions = {}): Promise<TablestoreEmulator> {
  throw new Error('Tablestore emulator not implemented yet');
}
