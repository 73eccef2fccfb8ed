/** Read-only views of the emulator's state for test assertions (peekRow, rowCount). */
import type { Database } from './database.js';
import { pkFromJs, toJs, type JsValue, type PkValue } from './values.js';

export interface PeekedRow {
  primaryKey: Record<string, JsValue>;
  attributes: Record<string, JsValue>;
  /** Cell versions (ms) by column. */
  timestamps: Record<string, number>;
}

/** Key given as {name: value} or as values in schema order; numbers are INTEGER, bigint too. */
export type PeekKey = Record<string, unknown> | unknown[];

export function peekRow(db: Database, tableName: string, key: PeekKey, now: number): PeekedRow | undefined {
  const table = db.tables.get(tableName);
  if (!table) throw new Error(`no table ${tableName}`);
  const schema = table.meta.primaryKey;
  const values = Array.isArray(key) ? key : schema.map((pk) => (key as Record<string, unknown>)[pk.name]);
  if (values.length !== schema.length || values.some((v) => v === undefined)) {
    throw new Error(`key must give ${schema.map((pk) => pk.name).join(', ')}`);
  }
  const pk: PkValue[] = values.map(pkFromJs);
  const view = table.get(pk, now);
  if (!view) return undefined;
  const out: PeekedRow = { primaryKey: {}, attributes: {}, timestamps: {} };
  view.primaryKey.forEach((v, i) => (out.primaryKey[schema[i]!.name] = toJs(v)));
  for (const [name, cell] of view.cells) {
    out.attributes[name] = toJs(cell.value);
    out.timestamps[name] = cell.ts;
  }
  return out;
}

/** Rows visible now (TTL applied). */
export function rowCount(db: Database, tableName: string, now: number): number {
  const table = db.tables.get(tableName);
  if (!table) throw new Error(`no table ${tableName}`);
  return table.rows.reduce((n, row) => n + (table.view(row, now) ? 1 : 0), 0);
}
