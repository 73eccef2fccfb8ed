/**
 * Authentication through the real SDK: keys from the shared CredentialStore, x-ots-signature,
 * STS tokens and their expiry, the instance name, and what the SDK surfaces for each refusal.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../lib/local/credentials.js';
import { sign } from '../../lib/local/tablestore/auth.js';
import type { TablestoreEmulator } from '../../lib/local/tablestore/index.js';
import { clientFor, createTable, expectOtsError, start, type Client } from './tablestore-helpers.js';

let emu: TablestoreEmulator;
let client: Client;
const credentials = new CredentialStore();
let clock = Date.UTC(2026, 5, 1);

beforeAll(async () => {
  ({ emu, client } = await start({ credentials, now: () => clock }));
  await createTable(client, 'jobs', [['id', 'STRING']]);
});
afterAll(() => emu.close());

const list = (c: Client) => c.listTable({});

describe('authentication', () => {
  it('accepts the emulator key and any key of the shared store', async () => {
    expect((await list(client)).tableNames).toEqual(['jobs']);
    const other = credentials.issueAccessKey();
    const c = clientFor(emu, { accessKeyId: other.accessKeyId, secretAccessKey: other.accessKeySecret });
    expect((await list(c)).tableNames).toEqual(['jobs']);
  });

  it('a wrong secret is refused: 403 OTSAuthFailed "Signature mismatch."', async () => {
    await expectOtsError(list(clientFor(emu, { secretAccessKey: `${emu.accessKeySecret}x` })), 403, 'OTSAuthFailed', 'Signature mismatch.');
  });

  it('an unknown access key id is refused: 403 OTSAuthFailed', async () => {
    await expectOtsError(list(clientFor(emu, { accessKeyId: 'LTAInobody' })), 403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
  });

  it('a wrong instance name is refused: 403 OTSAuthFailed', async () => {
    await expectOtsError(list(clientFor(emu, { instancename: 'other-inst' })), 403, 'OTSAuthFailed', 'The instance is not found.');
  });

  it('STS keys need their token (x-ots-ststoken) and expire', async () => {
    const sts = credentials.issueStsToken(3600_000, clock);
    const withToken = (token: string | undefined) =>
      clientFor(emu, { accessKeyId: sts.accessKeyId, secretAccessKey: sts.accessKeySecret, ...(token ? { stsToken: token } : {}) });
    expect((await list(withToken(sts.securityToken))).tableNames).toEqual(['jobs']);
    await expectOtsError(list(withToken(undefined)), 403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
    await expectOtsError(list(withToken(`${sts.securityToken}x`)), 403, 'OTSAuthFailed', 'security token');
    // A token sent with a long-lived key makes no STS key either.
    await expectOtsError(list(clientFor(emu, { stsToken: sts.securityToken })), 403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
    clock += 3600_000;
    await expectOtsError(list(withToken(sts.securityToken)), 403, 'OTSAuthFailed', 'expired');
  });

  it('refuses a body that does not match x-ots-contentmd5, and a stale x-ots-date', async () => {
    const url = new URL(emu.endpoint);
    const send = (headers: Record<string, string>, body: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/ListTable', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    const signed = (date: string, md5Of: Buffer) => {
      const headers: Record<string, string> = {
        'x-ots-date': date,
        'x-ots-apiversion': '2015-12-31',
        'x-ots-accesskeyid': emu.accessKeyId,
        'x-ots-instancename': emu.instance,
        'x-ots-contentmd5': createHash('md5').update(md5Of).digest('base64'),
      };
      headers['x-ots-signature'] = sign(emu.accessKeySecret, 'ListTable', headers);
      return headers;
    };
    emu.records.length = 0;
    expect(await send(signed(new Date().toISOString(), Buffer.alloc(0)), Buffer.alloc(0))).toBe(200);
    expect(await send(signed(new Date().toISOString(), Buffer.from('x')), Buffer.alloc(0))).toBe(403);
    expect(await send(signed(new Date(Date.now() - 16 * 60_000).toISOString(), Buffer.alloc(0)), Buffer.alloc(0))).toBe(403);
    expect(emu.records.map((r) => [r.status, r.errorCode])).toEqual([
      [200, undefined],
      [403, 'OTSAuthFailed'],
      [403, 'OTSAuthFailed'],
    ]);
  });

  it('answers GET with 405 and an unknown operation with 400', async () => {
    const r1 = await fetch(`${emu.endpoint}/ListTable`);
    expect(r1.status).toBe(405);
    const r2 = await fetch(`${emu.endpoint}/Frobnicate`, { method: 'POST' });
    expect(r2.status).toBe(400);
  });
});
