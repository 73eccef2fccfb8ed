/** The instance's tables, and the hook that tells persistence something changed. */
import { paramInvalid, tableNotExist } from './errors.js';
import type { Table } from './table.js';

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

export function checkTableName(name: string): void {
  if (!TABLE_NAME.test(name)) throw paramInvalid(`Invalid table name: '${name}'.`);
}

export class Database {
  readonly tables = new Map<string, Table>();
  private listener: () => void = () => {};

  onChange(listener: () => void): void {
    this.listener = listener;
  }

  changed(): void {
    this.listener();
  }

  /** The table, or the service's errors for a bad or unknown name. */
  table(name: string): Table {
    checkTableName(name);
    const table = this.tables.get(name);
    if (!table) throw tableNotExist();
    return table;
  }
}
