/** What every operation handler gets and returns. */
import type { TablestoreBehaviour } from '../behaviour.js';
import type { Database } from '../database.js';
import { paramInvalid } from '../errors.js';
import { mainProto } from '../sdk.js';

export interface OpContext {
  db: Database;
  /** The emulator clock (ms): cell versions, TTL. */
  now: number;
  /** Which way to act where the service's behaviour is unconfirmed. */
  behaviour: TablestoreBehaviour;
}

export interface OpResult {
  body: Uint8Array;
  /** Table(s) the request named, comma-separated for batches. */
  table?: string;
  /** Rows the service read to answer (scanned rows for GetRange, filtered ones included). */
  rowsRead: number;
  rowsReturned: number;
  rowsWritten: number;
  /** True when state changed and should be persisted. */
  changed: boolean;
}

export type Operation = (ctx: OpContext, body: Buffer) => OpResult;

/** Decodes a request; protobufjs refuses a body missing a required field. */
export function decodeRequest<T>(type: string, body: Buffer): T {
  try {
    return mainProto(type).decode(body) as T;
  } catch {
    throw paramInvalid('Parse PBMessage from RawString failed.');
  }
}

export function encodeResponse(type: string, message: object): Uint8Array {
  return mainProto(type).encode(message).finish();
}

/** Approximate capacity units: one per started 4 KB, at least one per row touched. */
export function capacity(read: number, write: number): { capacityUnit: { read: number; write: number } } {
  return { capacityUnit: { read, write } };
}

export const cuForBytes = (bytes: number): number => Math.max(1, Math.ceil(bytes / 4096));

/** The table(s) a request names, for the request record of a failed call; undefined if unreadable. */
export function requestTableName(operation: string, body: Buffer): string | undefined {
  try {
    const req = mainProto(`${operation}Request`).decode(body) as {
      tableName?: string;
      tableMeta?: { tableName?: string };
      tables?: Array<{ tableName?: string }>;
    };
    if (req.tables && req.tables.length > 0) return req.tables.map((t) => t.tableName).join(',');
    return req.tableMeta?.tableName ?? (req.tableName || undefined);
  } catch {
    return undefined;
  }
}
