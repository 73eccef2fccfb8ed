/**
 * OSS emulator conformance, object and listing operations, driven by the real ali-oss SDK with
 * signature V4 in all three addressing modes (IP endpoint, path style, cname).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { headersOf, meta, ossClient, ossError, type ClientMode } from './oss-client.js';

let emu: OssEmulator;
beforeAll(async () => {
  emu = await startOssEmulator();
});
afterAll(async () => {
  await emu.close();
});

const md5Hex = (b: Buffer) => createHash('md5').update(b).digest('hex').toUpperCase();

describe.each<ClientMode>(['ip', 'path', 'cname'])('objects via %s addressing', (mode) => {
  const p = `objects-${mode}/`;

  it('put, get, head, getObjectMeta and delete', async () => {
    const c = ossClient(emu, { mode });
    const body = Buffer.from('a sketch, honestly');
    const put = await c.put(`${p}cat.png`, body, { meta: meta({ prompt: 'a%20cat', style: 'watercolor' }) });
    expect(put.res.status).toBe(200);
    expect(headersOf(put).etag).toBe(`"${md5Hex(body)}"`);

    const got = await c.get(`${p}cat.png`);
    expect(got.content.equals(body)).toBe(true);
    expect(headersOf(got)['content-type']).toBe('image/png');
    expect(headersOf(got)['x-oss-meta-prompt']).toBe('a%20cat');

    const head = await c.head(`${p}cat.png`);
    expect(head.status).toBe(200);
    expect(head.meta).toEqual({ prompt: 'a%20cat', style: 'watercolor' });
    expect(Number(headersOf(head)['content-length'])).toBe(body.length);

    const om = await c.getObjectMeta(`${p}cat.png`);
    expect(om.status).toBe(200);
    expect(headersOf(om).etag).toBe(`"${md5Hex(body)}"`);

    expect((await c.delete(`${p}cat.png`)).res.status).toBe(204);
    const missing = await ossError(c.get(`${p}cat.png`));
    expect(missing).toMatchObject({ code: 'NoSuchKey', status: 404, name: 'NoSuchKeyError' });
    expect(missing.requestId).toMatch(/^[0-9A-F]{24}$/);
    const headMissing = await ossError(c.head(`${p}cat.png`));
    expect(headMissing).toMatchObject({ code: 'NoSuchKey', status: 404 });
    // Deleting what is not there is fine on OSS.
    expect((await c.delete(`${p}never-was.png`)).res.status).toBe(204);
  });

  it('copy keeps or replaces metadata; putMeta rewrites it', async () => {
    const c = ossClient(emu, { mode });
    await c.put(`${p}src.jpg`, Buffer.from('jpeg bytes'), { meta: meta({ owner: 'alice' }) });
    const copied = await c.copy(`${p}dst.jpg`, `${p}src.jpg`);
    expect(copied.data?.etag).toBe(`"${md5Hex(Buffer.from('jpeg bytes'))}"`);
    expect((await c.head(`${p}dst.jpg`)).meta).toEqual({ owner: 'alice' });

    await c.copy(`${p}dst2.jpg`, `${p}src.jpg`, { meta: meta({ owner: 'bob' }) });
    expect((await c.head(`${p}dst2.jpg`)).meta).toEqual({ owner: 'bob' });

    await c.putMeta(`${p}src.jpg`, meta({ state: 'done' }), {});
    expect((await c.head(`${p}src.jpg`)).meta).toEqual({ state: 'done' });
    expect((await c.get(`${p}src.jpg`)).content.toString()).toBe('jpeg bytes');

    expect(await ossError(c.copy(`${p}x.jpg`, `${p}absent.jpg`))).toMatchObject({ code: 'NoSuchKey', status: 404 });
  });
});

describe('objects', () => {
  const c = () => ossClient(emu);

  it('answers Range requests with 206 and Content-Range', async () => {
    await c().put('range/abc.txt', Buffer.from('0123456789'));
    const part = await c().get('range/abc.txt', { headers: { Range: 'bytes=2-5' } });
    expect(part.res.status).toBe(206);
    expect(part.content.toString()).toBe('2345');
    expect(headersOf(part)['content-range']).toBe('bytes 2-5/10');
    const tail = await c().get('range/abc.txt', { headers: { Range: 'bytes=-3' } });
    expect(tail.content.toString()).toBe('789');
    // OSS ignores a range it cannot satisfy and sends the whole object…
    const whole = await c().get('range/abc.txt', { headers: { Range: 'bytes=20-30' } });
    expect(whole.res.status).toBe(200);
    expect(whole.content.toString()).toBe('0123456789');
    // …unless asked for standard behaviour.
    const err = await ossError(c().get('range/abc.txt', { headers: { Range: 'bytes=20-30', 'x-oss-range-behavior': 'standard' } }));
    expect(err).toMatchObject({ code: 'InvalidRange', status: 416 });
  });

  it('checks Content-MD5', async () => {
    const body = Buffer.from('checked');
    const good = createHash('md5').update(body).digest('base64');
    await c().put('md5/ok.txt', body, { headers: { 'Content-MD5': good } });
    const bad = createHash('md5').update('something else').digest('base64');
    const err = await ossError(c().put('md5/bad.txt', body, { headers: { 'Content-MD5': bad } }));
    expect(err).toMatchObject({ code: 'InvalidDigest', status: 400 });
    expect(emu.peek('md5/bad.txt')).toBeUndefined();
  });

  it('takes stream bodies, chunked and with a length', async () => {
    const data = Buffer.alloc(300_000, 7);
    await c().putStream('stream/chunked.bin', Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]));
    expect(emu.peek('stream/chunked.bin')?.body.equals(data)).toBe(true);
    await c().putStream('stream/sized.bin', Readable.from([data]), { contentLength: data.length } as never);
    expect(emu.peek('stream/sized.bin')?.etag).toBe(`"${md5Hex(data)}"`);
    const s = await c().getStream('stream/chunked.bin');
    const chunks: Buffer[] = [];
    for await (const chunk of s.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('round-trips odd keys exactly', async () => {
    const keys = [
      'odd/with space.png',
      'odd/plus+sign.png',
      'odd/100%.png',
      'odd/percent%20literal.png',
      'odd/猫の絵.png',
      'odd/emoji 🐱‍👤.png',
      "odd/quote'(paren)!*.png",
      'odd/a/b/c/d/e/f/g/deep.png',
      'odd/amp&eq=hash#q?.png',
      'odd/tilde~semi;colon:comma,.png',
    ];
    for (const key of keys) {
      const body = Buffer.from(`body of ${key}`);
      await c().put(key, body);
      expect((await c().get(key)).content.equals(body), key).toBe(true);
      expect((await c().head(key)).status).toBe(200);
      for (const mode of ['ip', 'path', 'cname'] as const) {
        const url = await ossClient(emu, { mode }).signatureUrlV4('GET', 60, undefined, key);
        const res = await fetch(url);
        expect(res.status, `${mode} ${key}: ${await res.clone().text()}`).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
      }
      await c().copy(`${key}.copy`, key);
      expect(emu.peek(`${key}.copy`)?.body.equals(body), `${key} copy`).toBe(true);
    }
    const listed = (await c().listV2({ prefix: 'odd/', 'max-keys': '1000' }, {})).objects.map((o) => o.name);
    for (const key of keys) expect(listed).toContain(key);
    expect(emu.keys('odd/')).toEqual(listed);
  });

  it('does multipart uploads, with the CompleteMultipartUpload event and OSS-style ETag', async () => {
    const events: string[] = [];
    const off = emu.onObjectCreated({ prefix: 'mp/' }, (e) => events.push((e.events[0] as { eventName: string }).eventName));
    const data = Buffer.alloc(250 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const r = await c().multipartUpload('mp/big.bin', data, { partSize: 100 * 1024, meta: meta({ kind: 'big' }) });
    expect(r.res.status).toBe(200);
    const stored = emu.peek('mp/big.bin')!;
    expect(stored.body.equals(data)).toBe(true);
    expect(stored.meta).toEqual({ kind: 'big' });
    const partMd5s = [0, 1, 2].map((i) => createHash('md5').update(data.subarray(i * 102400, (i + 1) * 102400)).digest());
    expect(stored.etag).toBe(`"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex').toUpperCase()}-3"`);
    expect((await c().get('mp/big.bin', { headers: { Range: 'bytes=102400-102402' } })).content).toEqual(data.subarray(102400, 102403));

    const init = await c().initMultipartUpload('mp/aborted.bin');
    await c().uploadPart('mp/aborted.bin', init.uploadId, 1, Buffer.from('x') as never, 0, 1);
    expect((await c().listParts('mp/aborted.bin', init.uploadId, {} as never, {})).parts).toMatchObject({ PartNumber: '1', Size: '1' });
    await c().abortMultipartUpload('mp/aborted.bin', init.uploadId);
    expect(await ossError(c().abortMultipartUpload('mp/aborted.bin', init.uploadId))).toMatchObject({ code: 'NoSuchUpload', status: 404 });
    expect(emu.peek('mp/aborted.bin')).toBeUndefined();
    await emu.settled();
    off();
    expect(events).toEqual(['ObjectCreated:CompleteMultipartUpload']);
  });

  it('accepts PostObject form uploads signed with a V4 policy', async () => {
    const events: string[] = [];
    const off = emu.onObjectCreated({ prefix: 'form/' }, (e) => events.push((e.events[0] as { eventName: string }).eventName));
    const now = new Date();
    const day = now.toISOString().slice(0, 10).replace(/-/g, '');
    const date = `${day}T${now.toISOString().slice(11, 19).replace(/:/g, '')}Z`;
    const credential = `${emu.accessKeyId}/${day}/cn-beijing/oss/aliyun_v4_request`;
    const policy = {
      expiration: new Date(now.getTime() + 600_000).toISOString(),
      conditions: [{ bucket: emu.bucket }, ['starts-with', '$key', 'form/'], ['content-length-range', 1, 1000], { 'x-oss-credential': credential }],
    };
    const signer = c() as unknown as { signPostObjectPolicyV4(p: object, d: Date): string };
    const post = async (fields: Record<string, string>, file = 'form body') => {
      const form = new FormData();
      const base = {
        key: 'form/${filename}',
        policy: Buffer.from(JSON.stringify(policy)).toString('base64'),
        'x-oss-signature-version': 'OSS4-HMAC-SHA256',
        'x-oss-credential': credential,
        'x-oss-date': date,
        'x-oss-signature': signer.signPostObjectPolicyV4(policy, now),
        'x-oss-meta-prompt': 'from a form',
        success_action_status: '201',
      };
      for (const [k, v] of Object.entries({ ...base, ...fields })) form.append(k, v);
      form.append('file', new Blob([file], { type: 'text/plain' }), 'note.txt');
      return fetch(`${emu.endpoint}/`, { method: 'POST', body: form, headers: { Host: `${emu.bucket}.${emu.region}.aliyuncs.com` } });
    };
    const ok = await post({});
    expect(ok.status, await ok.clone().text()).toBe(201);
    expect(await ok.text()).toContain('<Key>form/note.txt</Key>');
    expect(emu.peek('form/note.txt')).toMatchObject({ contentType: 'text/plain', meta: { prompt: 'from a form' } });
    expect(emu.records.at(-1)).toMatchObject({ action: 'oss:PutObject', key: 'form/note.txt', accessKeyId: emu.accessKeyId, status: 201 });

    expect((await post({ key: 'elsewhere/x.txt' })).status).toBe(403);
    expect(await (await post({ 'x-oss-signature': '0'.repeat(64) })).text()).toContain('SignatureDoesNotMatch');
    expect((await post({}, 'x'.repeat(2000))).status).toBe(400);
    await emu.settled();
    off();
    expect(events).toEqual(['ObjectCreated:PostObject']);
  });

  it('deletes many at once', async () => {
    for (const k of ['multi/a.txt', 'multi/b&c.txt', 'multi/d.txt']) await c().put(k, Buffer.from(k));
    const r = await c().deleteMulti(['multi/a.txt', 'multi/b&c.txt', 'multi/nope.txt']);
    expect((r.deleted as unknown as Array<{ Key: string }>).map((d) => d.Key).sort()).toEqual(['multi/a.txt', 'multi/b&c.txt', 'multi/nope.txt']);
    expect(emu.keys('multi/')).toEqual(['multi/d.txt']);
  });

  it('answers NoSuchBucket for an unknown bucket', async () => {
    const err = await ossError(ossClient(emu, { bucket: 'no-such-bucket' }).get('x.txt'));
    expect(err).toMatchObject({ code: 'NoSuchBucket', status: 404 });
    expect(emu.records.at(-1)).toMatchObject({ action: 'oss:GetObject', bucket: 'no-such-bucket', status: 404 });
  });

  it('serves more buckets made with createBucket, copying between them', async () => {
    emu.createBucket('second-bucket');
    await c().put('cross/src.txt', Buffer.from('crossing'));
    const other = ossClient(emu, { bucket: 'second-bucket' });
    await other.copy('landed.txt', 'cross/src.txt', emu.bucket);
    expect((await other.get('landed.txt')).content.toString()).toBe('crossing');
    expect(emu.keys('', 'second-bucket')).toEqual(['landed.txt']);
    const path = ossClient(emu, { bucket: 'second-bucket', mode: 'path' });
    expect((await path.get('landed.txt')).content.toString()).toBe('crossing');
  });
});

describe('listing', () => {
  const c = () => ossClient(emu);
  const keys = ['list/a.png', 'list/b/1.png', 'list/b/2.png', 'list/c.png', 'list/d/x/y.png', 'list/e.png', 'list/f/', 'list/f/g.png'];

  beforeAll(async () => {
    for (const k of keys) await c().put(k, Buffer.from(k.endsWith('/') ? '' : k));
  });

  it('V1 pages with marker, prefix and delimiter, always with Owner', async () => {
    const seen: string[] = [];
    const prefixes: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await c().list({ prefix: 'list/', delimiter: '/', 'max-keys': 2, ...(marker ? { marker } : {}) }, {});
      seen.push(...page.objects.map((o) => o.name));
      prefixes.push(...(page.prefixes ?? []));
      for (const o of page.objects) expect(o.owner?.id).toBe(emu.accountId);
      if (!page.isTruncated) break;
      marker = page.nextMarker!;
    }
    expect(seen).toEqual(['list/a.png', 'list/c.png', 'list/e.png']);
    expect(prefixes).toEqual(['list/b/', 'list/d/', 'list/f/']);
  });

  it('V2 pages with continuation tokens', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<ReturnType<typeof c>['listV2']>> = await c().listV2(
        { prefix: 'list/', 'max-keys': '3', ...(token ? { 'continuation-token': token } : {}) },
        {},
      );
      expect(page.keyCount).toBe(page.objects.length);
      seen.push(...page.objects.map((o) => o.name));
      token = page.isTruncated ? page.nextContinuationToken : null;
      pages++;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...keys].sort());
  });

  it('V2 honours start-after and delimiter', async () => {
    const page = await c().listV2({ prefix: 'list/', delimiter: '/', 'start-after': 'list/b/9' }, {});
    expect(page.objects.map((o) => o.name)).toEqual(['list/c.png', 'list/e.png']);
    expect(page.prefixes).toEqual(['list/d/', 'list/f/']);
  });

  it('rejects a bad max-keys', async () => {
    expect(await ossError(c().list({ 'max-keys': 5000 }, {}))).toMatchObject({ code: 'InvalidArgument', status: 400 });
  });
});

describe('records and faults', () => {
  const c = () => ossClient(emu);

  it('records each request with its RAM action', async () => {
    const from = emu.records.length;
    await c().put('rec/a.txt', Buffer.from('a'));
    await c().get('rec/a.txt');
    await c().head('rec/a.txt');
    await c().copy('rec/b.txt', 'rec/a.txt');
    await c().listV2({ prefix: 'rec/' }, {});
    await c().list({ prefix: 'rec/', 'max-keys': 100 }, {});
    await c().delete('rec/a.txt');
    const url = await c().signatureUrlV4('GET', 60, { queries: { 'x-oss-process': 'image/info' } }, 'rec/b.txt');
    await fetch(url);
    const got = emu.records.slice(from).map((r) => [r.action, r.key ?? '', r.status, r.presigned, r.process ?? '']);
    expect(got).toEqual([
      ['oss:PutObject', 'rec/a.txt', 200, false, ''],
      ['oss:GetObject', 'rec/a.txt', 200, false, ''],
      ['oss:GetObject', 'rec/a.txt', 200, false, ''],
      ['oss:GetObject', 'rec/a.txt', 200, false, ''],
      ['oss:PutObject', 'rec/b.txt', 200, false, ''],
      ['oss:ListObjects', '', 200, false, ''],
      ['oss:ListObjects', '', 200, false, ''],
      ['oss:DeleteObject', 'rec/a.txt', 204, false, ''],
      ['oss:GetObject', 'rec/b.txt', 400, true, 'image/info'],
    ]);
    expect(emu.records.slice(from).every((r) => r.accessKeyId === emu.accessKeyId && r.bucket === emu.bucket)).toBe(true);
  });

  it('injects errors, resets and hangs', async () => {
    await c().put('fault/a.txt', Buffer.from('a'));
    emu.injectFault({ action: 'oss:GetObject', count: 2, kind: 'error' });
    expect(await ossError(c().get('fault/a.txt'))).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    // Other actions pass while the fault waits for its match.
    await c().put('fault/b.txt', Buffer.from('b'));
    expect(await ossError(c().get('fault/a.txt'))).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    expect((await c().get('fault/a.txt')).content.toString()).toBe('a');

    emu.injectFault({ count: 1, kind: 'error', status: 500, code: 'InternalError' });
    expect(await ossError(c().put('fault/c.txt', Buffer.from('c')))).toMatchObject({ code: 'InternalError', status: 500 });

    emu.injectFault({ action: 'oss:PutObject', count: 1, kind: 'reset' });
    expect(await ossError(c().put('fault/d.txt', Buffer.from('d')))).toMatchObject({ status: -1 });
    expect(emu.peek('fault/d.txt')).toBeUndefined();

    emu.injectFault({ action: 'oss:GetObject', count: 1, kind: 'hang' });
    const quick = ossClient(emu);
    (quick as unknown as { options: { timeout: number } }).options.timeout = 300;
    const hung = await ossError(quick.get('fault/a.txt'));
    expect(hung.name).toMatch(/Timeout/);
  });
});
