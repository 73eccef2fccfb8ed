/**
 * State file for local mode, so job state survives restarts. JSON with every value tagged by
 * type so nothing is lost: integers as decimal strings (64-bit exact), binaries as base64,
 * doubles as their shortest round-trip text. Written debounced, via a temp file and a rename, so
 * a crash never leaves half a file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Database } from './database.js';
import { comparePk } from './ordering.js';
import { Table, type Cell, type StoredRow, type TableMeta } from './table.js';
import type { PkValue, Value } from './values.js';

const FORMAT = 'sketchflow-tablestore/1';

type JsonValue = ['I', string] | ['D', string] | ['Z', boolean] | ['S', string] | ['B', string];

interface JsonRow {
  pk: JsonValue[];
  cells: Array<[string, JsonValue, number]>;
  putAt?: number;
}

interface JsonState {
  format: string;
  tables: Array<{ meta: TableMeta; rows: JsonRow[] }>;
}

function encodeValue(v: Value): JsonValue {
  switch (v.type) {
    case 'INTEGER':
      return ['I', v.value.toString()];
    case 'DOUBLE':
      return ['D', Object.is(v.value, -0) ? '-0' : String(v.value)];
    case 'BOOLEAN':
      return ['Z', v.value];
    case 'STRING':
      return ['S', v.value];
    case 'BINARY':
      return ['B', v.value.toString('base64')];
  }
}

function decodeValue(j: JsonValue): Value {
  switch (j[0]) {
    case 'I':
      return { type: 'INTEGER', value: BigInt(j[1]) };
    case 'D':
      return { type: 'DOUBLE', value: Number(j[1]) };
    case 'Z':
      return { type: 'BOOLEAN', value: j[1] };
    case 'S':
      return { type: 'STRING', value: j[1] };
    case 'B':
      return { type: 'BINARY', value: Buffer.from(j[1], 'base64') };
    default:
      throw new Error(`unknown value tag ${JSON.stringify(j)}`);
  }
}

export function serialize(db: Database): string {
  const state: JsonState = {
    format: FORMAT,
    tables: [...db.tables.values()].map((t) => ({
      meta: t.meta,
      rows: t.rows.map((r) => ({
        pk: r.primaryKey.map(encodeValue),
        cells: [...r.cells].map(([name, c]): [string, JsonValue, number] => [name, encodeValue(c.value), c.ts]),
        ...(r.putAt !== undefined ? { putAt: r.putAt } : {}),
      })),
    })),
  };
  return JSON.stringify(state);
}

export function deserialize(text: string, into: Database): void {
  const state = JSON.parse(text) as JsonState;
  if (state.format !== FORMAT) throw new Error(`unsupported state format ${String(state.format)}`);
  for (const t of state.tables) {
    const table = new Table(t.meta);
    for (const r of t.rows) {
      const row: StoredRow = {
        primaryKey: r.pk.map(decodeValue) as PkValue[],
        cells: new Map(r.cells.map(([name, v, ts]): [string, Cell] => [name, { value: decodeValue(v), ts }])),
        ...(r.putAt !== undefined ? { putAt: r.putAt } : {}),
      };
      table.rows.push(row);
    }
    table.rows.sort((a, b) => comparePk(a.primaryKey, b.primaryKey));
    into.tables.set(t.meta.name, table);
  }
}

/** Loads the file if it exists. A file that cannot be read is an error, never silently replaced. */
export function load(file: string, into: Database): void {
  if (!existsSync(file)) return;
  try {
    deserialize(readFileSync(file, 'utf8'), into);
  } catch (err) {
    throw new Error(`Tablestore emulator: cannot load state file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Debounced writer: many changes in a burst cost one write; writes never overlap. */
export class Persister {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private dirty = false;
  private failure: unknown;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => string,
    private readonly debounceMs: number,
  ) {}

  schedule(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.debounceMs);
  }

  private write(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await writeAtomically(this.file, this.snapshot());
        this.failure = undefined;
      } catch (err) {
        this.dirty = true;
        this.failure = err;
        console.error(`Tablestore emulator: cannot write ${this.file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    return this.chain;
  }

  /** Writes now if anything changed; rejects if the state could not be written. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.write();
    if (this.failure) throw this.failure;
  }
}
