/**
 * Issue 15: the service signs its replies and the Python SDK checks them (tablestore
 * `protocol.py` `_check_headers` / `_check_authorization`); the Node SDK looks at none of it. So
 * the real Node SDK talks to the emulator through a recording proxy, and every reply is checked
 * here as the Python SDK would, with the algorithm written in this file:
 *   - a 2xx carries x-ots-contentmd5 (= base64 MD5 of the body), x-ots-requestid, x-ots-date
 *     (`%Y-%m-%dT%H:%M:%S.%fZ`, within 15 minutes) and x-ots-contenttype;
 *   - `Authorization: OTS <AccessKeyId>:<base64 HMAC-SHA1(secret, sorted "name:value" of the
 *     x-ots-* reply headers joined by "\n", + "\n/<Operation>")>` on every 2xx, and on every
 *     error but a 403 OTSAuthFailed (which the SDK does not check and the service cannot sign).
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../lib/local/credentials.js';
import { startTablestoreEmulator, type TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { Condition, RE, TableStore, clientFor, createTable, expectOtsError, otsCode, type Client } from './tablestore-helpers.js';

interface Reply {
  operation: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Forwards every request to the emulator unchanged and keeps each reply as it went over the wire. */
async function recordingProxy(target: string): Promise<{ endpoint: string; replies: Reply[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const replies: Reply[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          const payload = Buffer.concat(body);
          replies.push({ operation: (req.url ?? '/').slice(1), status: up.statusCode ?? 0, headers, body: payload });
          res.writeHead(up.statusCode ?? 500, up.headers);
          res.end(payload);
        });
      });
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    replies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Python SDK's checks of one reply; returns what it would raise, or undefined. */
function pythonSdkVerdict(reply: Reply, accessKeyId: string, secret: string, errorCode?: string): string | undefined {
  const h = reply.headers;
  const ok = reply.status >= 200 && reply.status < 300;
  if (ok) for (const name of ['x-ots-contentmd5', 'x-ots-requestid', 'x-ots-date', 'x-ots-contenttype']) if (!(name in h)) return `"${name}" is missing in response header.`;
  if ('x-ots-contentmd5' in h && createHash('md5').update(reply.body).digest('base64') !== h['x-ots-contentmd5']) return 'MD5 mismatch in response.';
  if ('x-ots-date' in h) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,6}Z$/.test(h['x-ots-date']!)) return 'Invalid date format in response.';
    if (Math.abs(Date.parse(h['x-ots-date']!) - Date.now()) > 15 * 60_000) return 'The difference between date in response and system time is more than 15 minutes.';
  }
  // Not checked for a 403 OTSAuthFailed; required on a 2xx and on a 403 of any other code.
  if (reply.status === 403 && errorCode === 'OTSAuthFailed') return undefined;
  const auth = h.authorization;
  if (auth === undefined) return ok || reply.status === 403 ? '"Authorization" is missing in response header.' : undefined;
  if (!auth.startsWith('OTS ')) return 'Invalid Authorization in response.';
  const [id, signature] = auth.slice(4).split(':');
  if (id !== accessKeyId) return 'Invalid accesskeyid in response.';
  const lines = Object.entries(h)
    .filter(([k]) => k.startsWith('x-ots-') && k !== 'x-ots-signature')
    .map(([k, v]) => `${k.toLowerCase()}:${v.trim()}`)
    .sort();
  const expected = createHmac('sha1', secret).update(`${lines.join('\n')}\n/${reply.operation}`).digest('base64');
  return signature === expected ? undefined : 'Invalid signature in response.';
}

const credentials = new CredentialStore();
let emu: TablestoreEmulator;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let client: Client;

beforeAll(async () => {
  emu = await startTablestoreEmulator({ credentials });
  proxy = await recordingProxy(emu.endpoint);
  client = clientFor(emu, { endpoint: proxy.endpoint });
});
afterAll(async () => {
  await proxy.close();
  await emu.close();
});

/** Runs `call` through the proxy and returns the replies it produced. */
async function repliesOf(call: () => Promise<unknown>): Promise<Reply[]> {
  const before = proxy.replies.length;
  await call().catch(() => undefined);
  return proxy.replies.slice(before);
}

const errorCodeOf = (reply: Reply): string | undefined => otsCode({ message: reply.body.toString('latin1') });

describe('reply headers and signatures, as the Python SDK checks them', () => {
  it('every successful operation is signed with the caller key', async () => {
    const replies = await repliesOf(async () => {
      await createTable(client, 'sig_jobs', [['id', 'STRING']]);
      await client.listTable({});
      await client.describeTable({ tableName: 'sig_jobs' });
      await client.putRow({ tableName: 'sig_jobs', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'a' }], attributeColumns: [{ status: 'PENDING' }] });
      await client.getRow({ tableName: 'sig_jobs', primaryKey: [{ id: 'a' }], maxVersions: 1 });
      await client.updateRow({ tableName: 'sig_jobs', condition: new Condition(RE.EXPECT_EXIST, null), primaryKey: [{ id: 'a' }], updateOfAttributeColumns: [{ PUT: [{ status: 'DONE' }] }] });
      await client.getRange({ tableName: 'sig_jobs', direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: [{ id: TableStore.INF_MIN }], exclusiveEndPrimaryKey: [{ id: TableStore.INF_MAX }], limit: 10 });
      await client.batchWriteRow({ tables: [{ tableName: 'sig_jobs', rows: [{ type: 'PUT', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'b' }], attributeColumns: [{ status: 'PENDING' }] }] }] });
      await client.batchGetRow({ tables: [{ tableName: 'sig_jobs', primaryKey: [[{ id: 'a' }], [{ id: 'b' }]] }] });
      await client.deleteRow({ tableName: 'sig_jobs', condition: new Condition(RE.IGNORE, null), primaryKey: [{ id: 'b' }] });
    });
    expect(replies.map((r) => [r.operation, r.status])).toEqual(
      ['CreateTable', 'ListTable', 'DescribeTable', 'PutRow', 'GetRow', 'UpdateRow', 'GetRange', 'BatchWriteRow', 'BatchGetRow', 'DeleteRow'].map((op) => [op, 200]),
    );
    for (const r of replies) {
      expect(pythonSdkVerdict(r, emu.accessKeyId, emu.accessKeySecret), r.operation).toBeUndefined();
      expect(r.headers.authorization, r.operation).toMatch(new RegExp(`^OTS ${emu.accessKeyId}:[A-Za-z0-9+/]+=*$`));
    }
  });

  it('a failed condition (403 OTSConditionCheckFail) is signed: the Python SDK would raise a TypeError without it', async () => {
    const replies = await repliesOf(() =>
      client.putRow({ tableName: 'sig_jobs', condition: new Condition(RE.EXPECT_NOT_EXIST, null), primaryKey: [{ id: 'a' }], attributeColumns: [{ status: 'X' }] }),
    );
    expect(replies).toHaveLength(1);
    expect([replies[0]!.status, errorCodeOf(replies[0]!)]).toEqual([403, 'OTSConditionCheckFail']);
    expect(pythonSdkVerdict(replies[0]!, emu.accessKeyId, emu.accessKeySecret, 'OTSConditionCheckFail')).toBeUndefined();
    expect(replies[0]!.headers.authorization).toBeDefined();
  });

  it('other service errors (404, 400, injected 503) are signed too', async () => {
    emu.injectFault({ operation: 'ListTable', count: 1, kind: 'busy' });
    const replies = await repliesOf(async () => {
      await client.describeTable({ tableName: 'no_such_table' }).catch(() => undefined);
      await client.getRow({ tableName: 'sig_jobs', primaryKey: [{ wrong: 'a' }] }).catch(() => undefined);
      await client.listTable({}).catch(() => undefined);
    });
    expect(replies.map((r) => [r.status, errorCodeOf(r)])).toEqual([
      [404, 'OTSObjectNotExist'],
      [400, 'OTSInvalidPK'],
      [503, 'OTSServerBusy'],
    ]);
    for (const r of replies) {
      expect(r.headers.authorization, errorCodeOf(r)).toBeDefined();
      expect(pythonSdkVerdict(r, emu.accessKeyId, emu.accessKeySecret, errorCodeOf(r)), errorCodeOf(r)).toBeUndefined();
    }
  });

  it('an STS caller gets replies signed with the STS key id and secret', async () => {
    const sts = credentials.issueStsToken(3600_000, Date.now());
    const stsClient = clientFor(emu, { endpoint: proxy.endpoint, accessKeyId: sts.accessKeyId, secretAccessKey: sts.accessKeySecret, stsToken: sts.securityToken });
    const replies = await repliesOf(() => stsClient.listTable({}));
    expect(replies[0]!.headers.authorization).toMatch(new RegExp(`^OTS ${sts.accessKeyId}:`));
    expect(pythonSdkVerdict(replies[0]!, sts.accessKeyId, sts.accessKeySecret)).toBeUndefined();
    // Checked against the long-lived key instead, it would not hold.
    expect(pythonSdkVerdict(replies[0]!, emu.accessKeyId, emu.accessKeySecret)).toBe('Invalid accesskeyid in response.');
  });

  it('a request that does not authenticate gets an unsigned OTSAuthFailed, which the SDK accepts as an error', async () => {
    const wrong = clientFor(emu, { endpoint: proxy.endpoint, secretAccessKey: `${emu.accessKeySecret}x` });
    await expectOtsError(wrong.listTable({}), 403, 'OTSAuthFailed', 'Signature mismatch.');
    const reply = proxy.replies.at(-1)!;
    expect(reply.headers.authorization).toBeUndefined();
    expect(pythonSdkVerdict(reply, emu.accessKeyId, emu.accessKeySecret, 'OTSAuthFailed')).toBeUndefined();
  });

  it('the checker itself rejects a reply whose signature was made with another secret', async () => {
    const [reply] = await repliesOf(() => client.listTable({}));
    expect(pythonSdkVerdict(reply!, emu.accessKeyId, 'not-the-secret')).toBe('Invalid signature in response.');
    expect(pythonSdkVerdict({ ...reply!, headers: { ...reply!.headers, 'x-ots-requestid': 'tampered' } }, emu.accessKeyId, emu.accessKeySecret)).toBe('Invalid signature in response.');
  });
});
