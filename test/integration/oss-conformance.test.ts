/**
 * Issue 15: where the emulator differed from OSS for clients we did not write (oss2,
 * alibabacloud-oss-v2). Each divergence is pinned here with ali-oss where it shows the thing,
 * and with raw HTTP (test/integration/oss-raw.ts, its own V4 signer) where it does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { headersOf, meta, ossClient, ossError, type OssClient } from './oss-client.js';
import { rawOss, xmlTexts } from './oss-raw.js';

// ——— CRC-64 as oss2 computes it (crcmod: poly 0x142F0E1EBA9EA3693, rev=True, xorOut=~0), bit by bit ———
const REFLECTED_POLY = 0xc96c5795d7870f42n;
const MASK = 0xffffffffffffffffn;
/** The raw register after feeding `data` to `state` (no initial value, no final XOR). */
function feed(state: bigint, data: Uint8Array): bigint {
  let r = state;
  for (const byte of data) {
    r ^= BigInt(byte);
    for (let i = 0; i < 8; i++) r = r & 1n ? (r >> 1n) ^ REFLECTED_POLY : r >> 1n;
  }
  return r;
}
const crc64 = (data: Uint8Array): bigint => feed(MASK, data) ^ MASK;
/** oss2's calc_obj_crc_from_parts: crc(A‖B) = crc(B) ⊕ (crc(A) pushed through |B| zero bytes). */
const combine = (crcA: bigint, crcB: bigint, lengthB: number): bigint => crcB ^ feed(crcA, new Uint8Array(lengthB));

// Milliseconds on purpose: OSS writes whole seconds.
const START = Date.UTC(2026, 3, 1, 8, 0, 21, 654);
const WHOLE_SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/;
let clock = START;
let emu: OssEmulator;
let client: OssClient;

beforeAll(async () => {
  emu = await startOssEmulator({ now: () => clock, maxRequestSkewMs: Infinity });
  client = ossClient(emu);
});
afterAll(() => emu.close());

describe('the test CRC-64 is the one OSS uses', () => {
  it('gives the CRC-64/XZ check value and combines parts as oss2 does', () => {
    expect(crc64(Buffer.from('123456789')).toString(16)).toBe('995dc9bbdf1939fa');
    const a = Buffer.from('hand-drawn ');
    const b = Buffer.from('sketches');
    expect(combine(crc64(a), crc64(b), b.length)).toBe(crc64(Buffer.concat([a, b])));
  });
});

describe('x-oss-hash-crc64ecma', () => {
  const body = Buffer.from('a sketch of a teapot, in pencil');
  const expected = crc64(body).toString();

  it('comes with PutObject, GetObject, HeadObject and CopyObject', async () => {
    const put = await client.put('crc/teapot.png', body);
    expect(headersOf(put)['x-oss-hash-crc64ecma']).toBe(expected);
    const got = await client.get('crc/teapot.png');
    expect(headersOf(got)['x-oss-hash-crc64ecma']).toBe(expected);
    expect(crc64(got.content as Buffer).toString()).toBe(expected);
    const head = await client.head('crc/teapot.png');
    expect(headersOf(head)['x-oss-hash-crc64ecma']).toBe(expected);
    const copy = await client.copy('crc/teapot-copy.png', 'crc/teapot.png');
    expect(headersOf(copy)['x-oss-hash-crc64ecma']).toBe(expected);
    expect((await rawOss(emu, { method: 'HEAD', bucket: emu.bucket, key: 'crc/teapot-copy.png' })).headers['x-oss-hash-crc64ecma']).toBe(expected);
  });

  it('comes with UploadPart (the part) and CompleteMultipartUpload (the whole object, parts combined)', async () => {
    const part1 = Buffer.alloc(100 * 1024, 'p');
    const part2 = Buffer.from('the last part may be small');
    const { uploadId } = await client.initMultipartUpload('crc/big.bin');
    const up1 = await client.uploadPart('crc/big.bin', uploadId, 1, part1, 0, part1.length);
    const up2 = await client.uploadPart('crc/big.bin', uploadId, 2, part2, 0, part2.length);
    const crc1 = BigInt(headersOf(up1)['x-oss-hash-crc64ecma']!);
    const crc2 = BigInt(headersOf(up2)['x-oss-hash-crc64ecma']!);
    expect(crc1).toBe(crc64(part1));
    expect(crc2).toBe(crc64(part2));
    const done = await client.completeMultipartUpload('crc/big.bin', uploadId, [
      { number: 1, etag: up1.etag },
      { number: 2, etag: up2.etag },
    ]);
    const whole = BigInt(headersOf(done)['x-oss-hash-crc64ecma']!);
    expect(whole).toBe(combine(crc1, crc2, part2.length));
    expect(whole).toBe(crc64(Buffer.concat([part1, part2])));
    expect(headersOf(await client.head('crc/big.bin'))['x-oss-hash-crc64ecma']).toBe(whole.toString());
  });
});

describe('x-oss-object-type', () => {
  it('is Multipart for a completed multipart upload, Normal for PutObject, and so in listings', async () => {
    await client.put('types/simple.txt', Buffer.from('x'));
    const { uploadId } = await client.initMultipartUpload('types/multi.txt');
    const part = await client.uploadPart('types/multi.txt', uploadId, 1, Buffer.from('y'), 0, 1);
    await client.completeMultipartUpload('types/multi.txt', uploadId, [{ number: 1, etag: part.etag }]);
    expect(headersOf(await client.head('types/simple.txt'))['x-oss-object-type']).toBe('Normal');
    expect(headersOf(await client.head('types/multi.txt'))['x-oss-object-type']).toBe('Multipart');
    expect(headersOf(await client.get('types/multi.txt'))['x-oss-object-type']).toBe('Multipart');
    const listed = await client.listV2({ prefix: 'types/', 'max-keys': '10' });
    expect(listed.objects.map((o) => [o.name, o.type])).toEqual([
      ['types/multi.txt', 'Multipart'],
      ['types/simple.txt', 'Normal'],
    ]);
  });
});

describe('times in XML bodies are whole seconds (…:21.000Z), as OSS writes them', () => {
  it('LastModified, Initiated and CreationDate in every listing, CopyObject and GetBucketInfo', async () => {
    clock = START;
    await client.put('times/a.png', Buffer.from('a'));
    clock = START + 200; // same second, later millisecond
    await client.put('times/b.png', Buffer.from('b'));
    await client.copy('times/c.png', 'times/a.png');
    const { uploadId } = await client.initMultipartUpload('times/d.bin');
    await client.uploadPart('times/d.bin', uploadId, 1, Buffer.from('d'), 0, 1);

    const bodies = {
      listV1: await rawOss(emu, { bucket: emu.bucket, query: { prefix: 'times/' } }),
      listV2: await rawOss(emu, { bucket: emu.bucket, query: { 'list-type': '2', prefix: 'times/' } }),
      listParts: await rawOss(emu, { bucket: emu.bucket, key: 'times/d.bin', query: { uploadId } }),
      listUploads: await rawOss(emu, { bucket: emu.bucket, query: { uploads: '', prefix: 'times/' } }),
      bucketInfo: await rawOss(emu, { bucket: emu.bucket, query: { bucketInfo: '' } }),
      listBuckets: await rawOss(emu, {}),
      copy: await rawOss(emu, { method: 'PUT', bucket: emu.bucket, key: 'times/e.png', headers: { 'x-oss-copy-source': `/${emu.bucket}/times/a.png` } }),
    };
    const times: Record<string, string[]> = {};
    for (const [name, res] of Object.entries(bodies)) {
      expect(res.status, `${name}: ${res.body}`).toBe(200);
      times[name] = ['LastModified', 'Initiated', 'CreationDate'].flatMap((el) => xmlTexts(res.body, el));
      expect(times[name]!.length, name).toBeGreaterThan(0);
      for (const t of times[name]!) expect(t, name).toMatch(WHOLE_SECOND);
    }
    // Two uploads in the same second list with equal times: a tie-break must not rely on order.
    expect(times.listV2).toEqual(Array(3).fill('2026-04-01T08:00:21.000Z'));
    const listed = await client.list({ prefix: 'times/', 'max-keys': 10 }, {});
    expect(new Set(listed.objects.map((o) => o.lastModified))).toEqual(new Set(['2026-04-01T08:00:21.000Z']));
    await client.abortMultipartUpload('times/d.bin', uploadId);
  });
});

describe('ListBuckets and unknown buckets', () => {
  it('GET / on an endpoint that names no bucket is ListBuckets', async () => {
    emu.createBucket('sketchflow-other');
    const res = await rawOss(emu, {});
    expect(res.status, res.body).toBe(200);
    expect(res.body).toContain('<ListAllMyBucketsResult>');
    expect(xmlTexts(res.body, 'Name')).toEqual(['sketchflow-local', 'sketchflow-other']);
    expect(xmlTexts(res.body, 'Location')).toEqual(['oss-cn-beijing', 'oss-cn-beijing']);
    expect(xmlTexts(res.body, 'Region')).toEqual(['cn-beijing', 'cn-beijing']);
    const page = await rawOss(emu, { query: { 'max-keys': '1' } });
    expect(xmlTexts(page.body, 'Name')).toEqual(['sketchflow-local']);
    expect(xmlTexts(page.body, 'IsTruncated')).toEqual(['true']);
    expect(xmlTexts(page.body, 'NextMarker')).toEqual(['sketchflow-local']);
  });

  it('ali-oss listBuckets() on the emulator endpoint', async () => {
    const service = ossClient(emu, { bucket: undefined as unknown as string });
    const listed = (await service.listBuckets({})) as unknown as { buckets: Array<{ name: string; region: string; creationDate: string }> };
    expect(listed.buckets.map((b) => b.name)).toContain(emu.bucket);
    for (const b of listed.buckets) expect(b.creationDate).toMatch(WHOLE_SECOND);
  });

  it('a path-style request for a bucket that does not exist is NoSuchBucket (404, EC 0015-00000101), not SignatureDoesNotMatch', async () => {
    const raw = await rawOss(emu, { bucket: 'no-such-bucket', key: 'a.png', style: 'path' });
    expect(raw.status).toBe(404);
    expect(xmlTexts(raw.body, 'Code')).toEqual(['NoSuchBucket']);
    expect(xmlTexts(raw.body, 'BucketName')).toEqual(['no-such-bucket']);
    expect(xmlTexts(raw.body, 'EC')).toEqual(['0015-00000101']);
    const err = await ossError(ossClient(emu, { mode: 'path', bucket: 'no-such-bucket' }).get('a.png'));
    expect(err).toMatchObject({ status: 404, code: 'NoSuchBucket' });
    // A wrong signature on the same request is still a signature error.
    expect((await rawOss(emu, { bucket: 'no-such-bucket', key: 'a.png', style: 'path', secret: 'wrong' })).status).toBe(403);
  });
});

describe('errors as OSS words them, with <EC>', () => {
  it('user metadata over 8 KB is refused: 400 InvalidArgument, EC 0011-00000002; exactly 8 KB is stored', async () => {
    const name = 'x-oss-meta-note';
    const fits = 'n'.repeat(8 * 1024 - name.length);
    await client.put('meta/fits.txt', Buffer.from('x'), { meta: meta({ note: fits }) });
    expect((await client.head('meta/fits.txt')).meta).toMatchObject({ note: fits });
    const over = await rawOss(emu, { method: 'PUT', bucket: emu.bucket, key: 'meta/over.txt', headers: { [name]: `${fits}n` }, body: 'x' });
    expect(over.status).toBe(400);
    expect(xmlTexts(over.body, 'Code')).toEqual(['InvalidArgument']);
    expect(xmlTexts(over.body, 'EC')).toEqual(['0011-00000002']);
    expect(emu.peek('meta/over.txt')).toBeUndefined();
    const err = (await ossError(client.put('meta/over2.txt', Buffer.from('x'), { meta: meta({ a: 'v'.repeat(5000), b: 'w'.repeat(5000) }) }))) as unknown as { ecCode?: string };
    expect(err).toMatchObject({ status: 400, code: 'InvalidArgument', ecCode: '0011-00000002' });
  });

  it('multipart and precondition errors carry their EC; messages hold no text of ours', async () => {
    const ec = async (p: Promise<unknown>) => {
      const e = (await ossError(p)) as unknown as { code: string; ecCode?: string; message: string };
      expect(e.message).not.toMatch(/emulator|sketchflow|ali-oss/i);
      return [e.code, e.ecCode];
    };
    expect(await ec(client.uploadPart('mp/x.bin', 'NOUPLOAD', 1, Buffer.from('x'), 0, 1))).toEqual(['NoSuchUpload', '0017-00000244']);
    const { uploadId } = await client.initMultipartUpload('mp/x.bin');
    const small1 = await client.uploadPart('mp/x.bin', uploadId, 1, Buffer.from('a'), 0, 1);
    const small2 = await client.uploadPart('mp/x.bin', uploadId, 2, Buffer.from('b'), 0, 1);
    const parts = [
      { number: 1, etag: small1.etag },
      { number: 2, etag: small2.etag },
    ];
    // ali-oss sorts the parts itself: out of order needs raw HTTP.
    const reversed = `<CompleteMultipartUpload>${[...parts].reverse().map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>${p.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const outOfOrder = await rawOss(emu, { method: 'POST', bucket: emu.bucket, key: 'mp/x.bin', query: { uploadId }, body: reversed });
    expect([outOfOrder.status, xmlTexts(outOfOrder.body, 'Code'), xmlTexts(outOfOrder.body, 'EC')]).toEqual([400, ['InvalidPartOrder'], ['0042-00000209']]);
    expect(await ec(client.completeMultipartUpload('mp/x.bin', uploadId, parts))).toEqual(['EntityTooSmall', '0042-00000213']);
    await client.put('mp/exists.txt', Buffer.from('x'));
    expect(await ec(client.put('mp/exists.txt', Buffer.from('y'), { headers: { 'x-oss-forbid-overwrite': 'true' } }))).toEqual(['FileAlreadyExists', '0026-00000201']);
    expect(await ec(client.get('mp/exists.txt', { headers: { 'If-Match': '"0000"' } }))).toEqual(['PreconditionFailed', '0017-00001001']);
    const notImplemented = await rawOss(emu, { method: 'POST', bucket: emu.bucket, key: 'mp/exists.txt', query: { append: '', position: '0' }, body: 'z' });
    expect(notImplemented.status).toBe(501);
    expect(xmlTexts(notImplemented.body, 'Message')).toEqual(['A header you provided implies functionality that is not implemented.']);
    const badPart = await rawOss(emu, { method: 'PUT', bucket: emu.bucket, key: 'mp/x.bin', query: { partNumber: '10001', uploadId }, body: 'z' });
    expect([xmlTexts(badPart.body, 'ArgumentName'), xmlTexts(badPart.body, 'EC')]).toEqual([['PartNumber'], ['0017-00000220']]);
  });
});
