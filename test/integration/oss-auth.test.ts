/**
 * OSS emulator conformance, authentication: V4 header signatures and presigned URLs checked
 * against the shared CredentialStore, STS tokens, the injected clock, and the error answers
 * ali-oss surfaces as err.code/err.status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../lib/local/credentials.js';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { headersOf, ossClient, ossError } from './oss-client.js';

let emu: OssEmulator;
let clock = Date.now();
const credentials = new CredentialStore();

beforeAll(async () => {
  emu = await startOssEmulator({ credentials, now: () => clock });
  await ossClient(emu).put('auth/cat.png', Buffer.from('cat'));
});
afterAll(async () => {
  await emu.close();
});

describe('signed requests', () => {
  it('refuses a wrong secret with SignatureDoesNotMatch', async () => {
    const err = await ossError(ossClient(emu, { accessKeySecret: 'not-the-secret' }).get('auth/cat.png'));
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403, name: 'SignatureDoesNotMatchError' });
  });

  it('refuses an unknown key id with InvalidAccessKeyId', async () => {
    const err = await ossError(ossClient(emu, { accessKeyId: 'LTAIunknown', accessKeySecret: 'x' }).get('auth/cat.png'));
    expect(err).toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });
  });

  it('surfaces error codes on HEAD too (x-oss-err)', async () => {
    const err = await ossError(ossClient(emu, { accessKeySecret: 'nope' }).head('auth/cat.png'));
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  it('accepts keys added to the shared store later', async () => {
    const key = credentials.issueAccessKey();
    const c = ossClient(emu, { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
    expect((await c.get('auth/cat.png')).content.toString()).toBe('cat');
    expect(emu.records.at(-1)?.accessKeyId).toBe(key.accessKeyId);
  });

  it('refuses anonymous requests', async () => {
    const res = await fetch(`${emu.endpoint}/auth/cat.png`, { headers: { Host: `${emu.bucket}.${emu.region}.aliyuncs.com` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toMatch(/<Code>AccessDenied<\/Code>[\s\S]*<RequestId>[0-9A-F]{24}<\/RequestId>[\s\S]*<HostId>/);
  });

  it('refuses a request signed for another region', async () => {
    const err = await ossError(ossClient(emu, { region: 'oss-cn-hangzhou' }).get('auth/cat.png'));
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  it('refuses a request whose x-oss-date is too far from the server clock', async () => {
    clock = Date.now() + 20 * 60_000;
    try {
      expect(await ossError(ossClient(emu).get('auth/cat.png'))).toMatchObject({ code: 'RequestTimeTooSkewed', status: 403 });
    } finally {
      clock = Date.now();
    }
  });

  it('can widen the skew window for tests that move the clock far', async () => {
    const later = Date.now() + 48 * 3600_000;
    const relaxed = await startOssEmulator({ now: () => later, maxRequestSkewMs: Infinity });
    try {
      await ossClient(relaxed).put('skew.txt', Buffer.from('ok'));
      expect(relaxed.peek('skew.txt')?.lastModified).toBe(later);
    } finally {
      await relaxed.close();
    }
  });

  it('stamps Last-Modified from the injected clock', async () => {
    // ali-oss signs with the real time, so stay within the 15-minute skew.
    clock = Math.floor(Date.now() / 1000) * 1000 - 600_000;
    try {
      const c = ossClient(emu);
      await c.put('auth/stamped.txt', Buffer.from('t'));
      expect(emu.peek('auth/stamped.txt')?.lastModified).toBe(clock);
      expect(headersOf(await c.head('auth/stamped.txt'))).toMatchObject({ 'last-modified': new Date(clock).toUTCString() });
    } finally {
      clock = Date.now();
    }
  });

  it('refuses V1 signatures by default', async () => {
    const { default: OSS } = await import('ali-oss');
    const v1 = new OSS({ accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret, bucket: emu.bucket, region: emu.region, endpoint: emu.endpoint });
    expect(await ossError(v1.get('auth/cat.png'))).toMatchObject({ code: 'AccessDenied', status: 403 });
  });
});

describe('STS keys', () => {
  it('requires the token and checks it', async () => {
    const sts = credentials.issueStsToken(3600_000, clock);
    const good = ossClient(emu, { ...sts, stsToken: sts.securityToken });
    expect((await good.get('auth/cat.png')).content.toString()).toBe('cat');

    const missing = await ossError(ossClient(emu, { accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret }).get('auth/cat.png'));
    expect(missing).toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });

    const wrong = await ossError(ossClient(emu, { ...sts, stsToken: `${sts.securityToken}x` }).get('auth/cat.png'));
    expect(wrong).toMatchObject({ code: 'InvalidSecurityToken', status: 403 });

    const url = await good.signatureUrlV4('GET', 600, undefined, 'auth/cat.png');
    expect(url).toContain('x-oss-security-token=');
    expect((await fetch(url)).status).toBe(200);
    const stripped = url.replace(/&?x-oss-security-token=[^&]*/, '');
    expect((await fetch(stripped)).status).toBe(403);
  });

  it('refuses the token after it expires', async () => {
    const sts = credentials.issueStsToken(60_000, clock);
    const c = ossClient(emu, { ...sts, stsToken: sts.securityToken });
    await c.get('auth/cat.png');
    clock += 61_000;
    try {
      expect(await ossError(c.get('auth/cat.png'))).toMatchObject({ code: 'SecurityTokenExpired', status: 403 });
    } finally {
      clock = Date.now();
    }
  });
});

describe('presigned URLs (signatureUrlV4 + plain fetch)', () => {
  it('work from the bare IP endpoint: the bucket is found by the signature', async () => {
    const url = await ossClient(emu).signatureUrlV4('GET', 600, undefined, 'auth/cat.png');
    expect(new URL(url).host).toBe(new URL(emu.endpoint).host);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('cat');
    expect(emu.records.at(-1)).toMatchObject({ action: 'oss:GetObject', presigned: true, bucket: emu.bucket, key: 'auth/cat.png' });
  });

  it('work in path-style and cname form, and for a second bucket', async () => {
    for (const mode of ['path', 'cname'] as const) {
      const res = await fetch(await ossClient(emu, { mode }).signatureUrlV4('GET', 600, undefined, 'auth/cat.png'));
      expect(res.status, mode).toBe(200);
    }
    emu.createBucket('auth-second');
    const other = ossClient(emu, { bucket: 'auth-second' });
    await other.put('auth/cat.png', Buffer.from('other cat'));
    const res = await fetch(await other.signatureUrlV4('GET', 600, undefined, 'auth/cat.png'));
    expect(await res.text()).toBe('other cat');
  });

  it('expire: 403 AccessDenied "Request has expired" once the clock passes x-oss-expires', async () => {
    const url = await ossClient(emu).signatureUrlV4('GET', 1800, undefined, 'auth/cat.png');
    clock = Date.now() + 1799_000;
    expect((await fetch(url)).status).toBe(200);
    clock = Date.now() + 1801_000;
    try {
      const res = await fetch(url);
      expect(res.status).toBe(403);
      const xml = await res.text();
      expect(xml).toContain('<Code>AccessDenied</Code>');
      expect(xml).toContain('<Message>Request has expired.</Message>');
    } finally {
      clock = Date.now();
    }
  });

  it('refuse a tampered URL', async () => {
    const c = ossClient(emu);
    await c.put('auth/dog.png', Buffer.from('dog'));
    const url = await c.signatureUrlV4('GET', 600, { queries: { 'x-oss-process': 'image/info' } }, 'auth/cat.png');
    const tampered = [
      url.replace('auth/cat.png', 'auth/dog.png'),
      url.replace('image%2Finfo', 'image%2Fresize%2Cw_10'),
      url.replace(/x-oss-expires=\d+/, 'x-oss-expires=604800'),
      url.replace(/(x-oss-signature=)([0-9a-f])/, (_, k: string, ch: string) => `${k}${ch === '0' ? '1' : '0'}`),
    ];
    for (const t of tampered) {
      expect(t).not.toBe(url);
      const res = await fetch(t);
      expect(res.status, t).toBe(403);
      expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
  });

  it('sign the method: a GET URL cannot PUT', async () => {
    const url = await ossClient(emu).signatureUrlV4('GET', 600, undefined, 'auth/cat.png');
    const res = await fetch(url, { method: 'PUT', body: 'overwrite' });
    expect(res.status).toBe(403);
    expect(emu.peek('auth/cat.png')?.body.toString()).toBe('cat');
  });

  it('can upload with a PUT URL', async () => {
    const url = await ossClient(emu).signatureUrlV4('PUT', 600, { headers: { 'Content-Type': 'image/png' } }, 'auth/up.png');
    const res = await fetch(url, { method: 'PUT', body: 'uploaded', headers: { 'Content-Type': 'image/png' } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(emu.peek('auth/up.png')).toMatchObject({ contentType: 'image/png' });
  });
});
