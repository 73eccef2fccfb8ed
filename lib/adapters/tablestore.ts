/**
 * RowStore over the real `tablestore` SDK (5.6). Rows are (kind STRING, id STRING) → `body`
 * (JSON text) and `rev` (INTEGER, the optimistic-lock revision). The SDK's quirks live here:
 * errors arrive with a numeric `code` and the OTS code inside `message` (storage.md §0.3);
 * every write needs a `condition`; integers must be `TableStore.Long`.
 */
import TableStore from 'tablestore';
import { ConditionFailedError, JobStoreError, TransportError } from '../errors.js';
import type { Expect, RowStore, StoredRow } from '../core/ports.js';
import type { CloudCredentials } from './credentials.js';

export interface TablestoreSettings {
  endpoint: string;
  instance: string;
  table: string;
  timeoutMs?: number;
}

type SdkError = Error & { code?: number | string };

/** The OTS error code and readable message out of the SDK's raw protobuf text. */
export function parseOtsError(err: unknown): { code: string; message: string; status: number } {
  const e = err as SdkError;
  const raw = String(e?.message ?? err);
  const code = /OTS[A-Za-z]+/.exec(raw)?.[0] ?? String(e?.code ?? 'Unknown');
  const afterCode = raw.slice(raw.indexOf(code) + code.length).replace(/requestId:\S*/, '');
  // eslint-disable-next-line no-control-regex
  const message = afterCode.replace(/[\u0000-\u001f]+/g, ' ').trim() || raw.replace(/[\u0000-\u001f]+/g, ' ').trim();
  const status = typeof e?.code === 'number' ? e.code : -1;
  return { code, message, status };
}

export function mapTablestoreError(err: unknown, what: string): Error {
  const e = err as SdkError;
  if (e?.code === 'NetworkingError' || (typeof e?.code !== 'number' && /ECONN|socket|timed out|ETIMEDOUT/i.test(String(e?.message)))) {
    return new TransportError('tablestore', `${what}: ${e?.message ?? String(err)}`, !/ECONNREFUSED/.test(String(e?.message)), { cause: err });
  }
  const { code, message, status } = parseOtsError(err);
  if (code === 'OTSConditionCheckFail') return new ConditionFailedError(`${what}: ${message}`, { cause: err });
  return new JobStoreError(code, `${what}: ${code} ${message}`, status, { cause: err });
}

const SCHEMA = [
  { name: 'kind', type: 'STRING' as const },
  { name: 'id', type: 'STRING' as const },
];

function pk(kind: string, id: string | typeof TableStore.INF_MIN | typeof TableStore.INF_MAX) {
  return [{ kind }, { id }] as TableStore.PrimaryKeyInput;
}

function condition(expect: Expect): TableStore.Condition {
  const { Condition, RowExistenceExpectation: RE, SingleColumnCondition, ComparatorType } = TableStore;
  if (expect === 'any') return new Condition(RE.IGNORE, null);
  if ('absent' in expect) return new Condition(RE.EXPECT_NOT_EXIST, null);
  return new Condition(RE.EXPECT_EXIST, new SingleColumnCondition('rev', TableStore.Long.fromNumber(expect.rev), ComparatorType.EQUAL, false));
}

function decodeRow<T>(row: TableStore.Row | undefined): StoredRow<T> | undefined {
  if (!row?.primaryKey || !row.attributes) return undefined;
  const id = row.primaryKey.find((c) => c.name === 'id')?.value;
  let body: string | undefined;
  let rev = 0;
  for (const a of row.attributes) {
    if (a.columnName === 'body') body = String(a.columnValue);
    else if (a.columnName === 'rev') rev = Number((a.columnValue as { toNumber?: () => number })?.toNumber?.() ?? a.columnValue);
  }
  if (typeof id !== 'string' || body === undefined) return undefined;
  return { id, value: JSON.parse(body) as T, rev };
}

export function createTablestoreClient(settings: TablestoreSettings, credentials: CloudCredentials): TableStore.Client {
  return new TableStore.Client({
    endpoint: settings.endpoint,
    instancename: settings.instance,
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.accessKeySecret,
    ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
    // The SDK never retries writes, and read retries default to 20 (a global!); we retry ourselves.
    maxRetries: 2,
    httpOptions: { timeout: settings.timeoutMs ?? 10_000, maxSockets: 50 },
  } as unknown as TableStore.ConfigOptions);
}

export function createRowStore(settings: TablestoreSettings, credentials: CloudCredentials): RowStore {
  const client = createTablestoreClient(settings, credentials);
  const tableName = settings.table;
  return {
    async get<T>(kind: string, id: string) {
      try {
        const r = await client.getRow({ tableName, primaryKey: pk(kind, id), maxVersions: 1 });
        return decodeRow<T>(r.row);
      } catch (err) {
        throw mapTablestoreError(err, `get ${kind}/${id}`);
      }
    },

    async getMany<T>(kind: string, ids: string[]) {
      const out = new Map<string, StoredRow<T>>();
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        let result: TableStore.BatchGetRowResult;
        try {
          result = await client.batchGetRow({ tables: [{ tableName, primaryKey: chunk.map((id) => pk(kind, id)), maxVersions: 1 }] });
        } catch (err) {
          throw mapTablestoreError(err, `batch get ${kind}`);
        }
        for (const row of result.tables[0] ?? []) {
          if (!row.isOk) throw new JobStoreError(row.errorCode ?? 'Unknown', `batch get ${kind}: ${row.errorCode} ${row.errorMessage}`, -1);
          const decoded = decodeRow<T>(row);
          if (decoded) out.set(decoded.id, decoded);
        }
      }
      return out;
    },

    async put<T>(kind: string, id: string, value: T, expect: Expect) {
      const rev = expect !== 'any' && 'rev' in expect ? expect.rev + 1 : 1;
      try {
        await client.putRow({
          tableName,
          condition: condition(expect),
          primaryKey: pk(kind, id),
          attributeColumns: [{ body: JSON.stringify(value) }, { rev: TableStore.Long.fromNumber(rev) }],
        });
        return rev;
      } catch (err) {
        throw mapTablestoreError(err, `put ${kind}/${id}`);
      }
    },

    async delete(kind: string, id: string, expect: Expect = 'any') {
      try {
        await client.deleteRow({ tableName, condition: condition(expect), primaryKey: pk(kind, id) });
      } catch (err) {
        throw mapTablestoreError(err, `delete ${kind}/${id}`);
      }
    },

    async scan<T>(kind: string, options: { from?: string; limit?: number } = {}) {
      try {
        const r = await client.getRange({
          tableName,
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: pk(kind, options.from ?? TableStore.INF_MIN),
          exclusiveEndPrimaryKey: pk(kind, TableStore.INF_MAX),
          limit: options.limit ?? 1000,
          maxVersions: 1,
        } as TableStore.GetRangeParams);
        const rows = (r.rows ?? []).map((row) => decodeRow<T>(row)).filter((row): row is StoredRow<T> => row !== undefined);
        const next = r.nextStartPrimaryKey;
        const nextKind = next?.find((c) => c.name === 'kind')?.value;
        const nextId = next?.find((c) => c.name === 'id')?.value;
        return { rows, ...(nextKind === kind && typeof nextId === 'string' ? { next: nextId } : {}) };
      } catch (err) {
        throw mapTablestoreError(err, `scan ${kind}`);
      }
    },
  };
}

export interface TableSetupReport {
  table: string;
  created: boolean;
}

/** Creates the jobs table if it is missing (idempotent), and checks its key schema if it exists. */
export async function ensureTable(settings: TablestoreSettings, credentials: CloudCredentials): Promise<TableSetupReport> {
  const client = createTablestoreClient(settings, credentials);
  const tableName = settings.table;
  try {
    const described = await client.describeTable({ tableName });
    const keys = (described.tableMeta?.primaryKey ?? []) as Array<{ name: string; type: unknown }>;
    const names = keys.map((k) => k.name).join(',');
    if (names !== 'kind,id') {
      throw new JobStoreError('SchemaMismatch', `table ${tableName} exists with primary key (${names}); sketchflow needs (kind STRING, id STRING) — choose another TABLESTORE_TABLE`, 400);
    }
    return { table: tableName, created: false };
  } catch (err) {
    if (err instanceof JobStoreError) throw err;
    const mapped = mapTablestoreError(err, `describe ${tableName}`);
    if (!(mapped instanceof JobStoreError) || mapped.code !== 'OTSObjectNotExist') throw mapped;
  }
  try {
    await client.createTable({
      tableMeta: { tableName, primaryKey: SCHEMA },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    } as TableStore.CreateTableParams);
    return { table: tableName, created: true };
  } catch (err) {
    const mapped = mapTablestoreError(err, `create ${tableName}`);
    if (mapped instanceof JobStoreError && mapped.code === 'OTSObjectAlreadyExist') return { table: tableName, created: false };
    throw mapped;
  }
}
