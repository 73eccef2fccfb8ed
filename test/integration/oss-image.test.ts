/**
 * OSS emulator conformance, image processing (`x-oss-process`): the normalized view the pipeline
 * puts into presigned URLs for DashScope, image/info in OSS's shape, and the OSS errors.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBmp } from '../../lib/local/oss/bmp.js';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { headersOf, ossClient, ossError } from './oss-client.js';

const NORMALIZE = 'image/auto-orient,1/resize,m_pad,w_768,h_768,color_FFFFFF,limit_0/format,png';

let emu: OssEmulator;
beforeAll(async () => {
  emu = await startOssEmulator();
});
afterAll(async () => {
  await emu.close();
});

/** A landscape image: left half red, right half blue. */
function redBlue(width: number, height: number) {
  return sharp({ create: { width, height, channels: 3, background: '#ff0000' } }).composite([
    { input: { create: { width: width / 2, height, channels: 3, background: '#0000ff' } }, left: width / 2, top: 0 },
  ]);
}

async function pixel(png: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

const near = (actual: number[], expected: number[]) => actual.every((v, i) => Math.abs(v - expected[i]!) <= 40);

async function fetchProcessed(key: string, process: string) {
  const url = await ossClient(emu).signatureUrlV4('GET', 600, { queries: { 'x-oss-process': process } }, key);
  return fetch(url);
}

describe('normalized view through a presigned URL', () => {
  it('pads a small sketch with white to a 768×768 PNG (limit_0 upscales)', async () => {
    const small = await redBlue(120, 60).png().toBuffer();
    await ossClient(emu).put('img/small.png', small);
    const res = await fetchProcessed('img/small.png', NORMALIZE);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await res.arrayBuffer());
    const m = await sharp(png).metadata();
    expect([m.format, m.width, m.height]).toEqual(['png', 768, 768]);
    // Content 768×384 in the middle, white bands above and below.
    expect(await pixel(png, 384, 20)).toEqual([255, 255, 255]);
    expect(await pixel(png, 384, 747)).toEqual([255, 255, 255]);
    expect(near(await pixel(png, 100, 384), [255, 0, 0])).toBe(true);
    expect(near(await pixel(png, 668, 384), [0, 0, 255])).toBe(true);
    expect(emu.records.at(-1)).toMatchObject({ action: 'oss:GetObject', presigned: true, process: NORMALIZE, status: 200 });
  });

  it('applies EXIF rotation with auto-orient,1 (and not without it)', async () => {
    // Stored landscape (red left, blue right) with orientation 6: shown rotated 90° clockwise,
    // i.e. portrait with red on top and blue below.
    const rotated = await redBlue(400, 200).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    await ossClient(emu).put('img/phone.jpg', rotated);
    const png = Buffer.from(await (await fetchProcessed('img/phone.jpg', NORMALIZE)).arrayBuffer());
    expect((await sharp(png).metadata()).width).toBe(768);
    expect(await pixel(png, 40, 384)).toEqual([255, 255, 255]); // padded left/right now
    expect(near(await pixel(png, 384, 100), [255, 0, 0])).toBe(true);
    expect(near(await pixel(png, 384, 668), [0, 0, 255])).toBe(true);

    const raw = Buffer.from(await (await fetchProcessed('img/phone.jpg', 'image/resize,m_pad,w_768,h_768,limit_0/format,png')).arrayBuffer());
    expect(await pixel(raw, 384, 40)).toEqual([255, 255, 255]); // still landscape: padded top/bottom
    expect(near(await pixel(raw, 100, 384), [255, 0, 0])).toBe(true);
  });

  it('normalizes a BMP too', async () => {
    const { data, info } = await redBlue(64, 32).raw().toBuffer({ resolveWithObject: true });
    await ossClient(emu).put('img/sketch.bmp', encodeBmp({ data, width: info.width, height: info.height }));
    const png = Buffer.from(await (await fetchProcessed('img/sketch.bmp', NORMALIZE)).arrayBuffer());
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 768, height: 768 });
    expect(near(await pixel(png, 100, 384), [255, 0, 0])).toBe(true);
  });
});

describe('image/info', () => {
  it("answers OSS's JSON shape", async () => {
    const jpg = await redBlue(400, 200).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    await ossClient(emu).put('img/info.jpg', jpg);
    const res = await fetchProcessed('img/info.jpg', 'image/info');
    expect(res.headers.get('content-type')).toBe('application/json');
    const info = (await res.json()) as Record<string, { value: string }>;
    expect(info).toMatchObject({
      FileSize: { value: String(jpg.length) },
      Format: { value: 'jpg' },
      FrameCount: { value: '1' },
      ImageHeight: { value: '200' },
      ImageWidth: { value: '400' },
      Orientation: { value: '6' },
    });
    expect(Object.keys(info)).toEqual([...Object.keys(info)].sort());

    const png = await redBlue(10, 8).png().toBuffer();
    await ossClient(emu).put('img/info.png', png);
    const viaSdk = await ossClient(emu).get('img/info.png', { process: 'image/info' });
    const pinfo = JSON.parse(viaSdk.content.toString()) as Record<string, { value: string }>;
    expect(pinfo).toMatchObject({ Format: { value: 'png' }, ImageWidth: { value: '10' }, ImageHeight: { value: '8' } });
    expect(pinfo.Orientation).toBeUndefined();
  });
});

describe('resize modes', () => {
  const dims = async (key: string, process: string) => {
    const r = await ossClient(emu).get(key, { process });
    const m = await sharp(r.content).metadata();
    return [m.width, m.height];
  };

  beforeAll(async () => {
    await ossClient(emu).put('img/400x200.png', await redBlue(400, 200).png().toBuffer());
  });

  it('lfit (default), mfit, fill, fixed, p, l', async () => {
    expect(await dims('img/400x200.png', 'image/resize,w_100,h_100')).toEqual([100, 50]);
    expect(await dims('img/400x200.png', 'image/resize,m_mfit,w_100,h_100')).toEqual([200, 100]);
    expect(await dims('img/400x200.png', 'image/resize,m_fill,w_100,h_100')).toEqual([100, 100]);
    expect(await dims('img/400x200.png', 'image/resize,m_fixed,w_30,h_70')).toEqual([30, 70]);
    expect(await dims('img/400x200.png', 'image/resize,p_50')).toEqual([200, 100]);
    expect(await dims('img/400x200.png', 'image/resize,l_200')).toEqual([200, 100]);
  });

  it('never enlarges with limit_1 (the default); limit_0 does', async () => {
    expect(await dims('img/400x200.png', 'image/resize,w_800')).toEqual([400, 200]);
    expect(await dims('img/400x200.png', 'image/resize,w_800,limit_1')).toEqual([400, 200]);
    expect(await dims('img/400x200.png', 'image/resize,w_800,limit_0')).toEqual([800, 400]);
  });

  it('chains actions and converts formats', async () => {
    const r = await ossClient(emu).get('img/400x200.png', { process: 'image/resize,w_200/rotate,90/format,jpg/quality,q_80' });
    expect(headersOf(r)['content-type']).toBe('image/jpeg');
    expect(await sharp(r.content).metadata()).toMatchObject({ format: 'jpeg', width: 100, height: 200 });
  });
});

describe('errors', () => {
  it('refuses non-images and bad parameters like OSS', async () => {
    const c = ossClient(emu);
    await c.put('img/notes.txt', Buffer.from('not an image at all'));
    expect(await ossError(c.get('img/notes.txt', { process: 'image/info' }))).toMatchObject({ code: 'BadRequest', status: 400 });
    await c.put('img/tiny.png', await redBlue(4, 2).png().toBuffer());
    for (const process of ['image/resize,w_abc', 'image/resize,m_nope,w_10', 'image/resize,w_10/info', 'image/format,xyz', 'image/unknown-thing']) {
      expect(await ossError(c.get('img/tiny.png', { process })), process).toMatchObject({ code: 'InvalidArgument', status: 400 });
    }
    expect(await ossError(c.get('img/tiny.png', { process: 'image/resize,m_pad' }))).toMatchObject({ code: 'MissingArgument', status: 400 });
    expect(await ossError(c.get('img/tiny.png', { process: 'image/watermark,text_aGk' }))).toMatchObject({ code: 'NotImplemented', status: 501 });
    expect(await ossError(c.get('img/missing.png', { process: 'image/info' }))).toMatchObject({ code: 'NoSuchKey', status: 404 });
  });

  it('refuses sources over the 20 MB image-processing limit', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024 + 1);
    (await redBlue(4, 2).png().toBuffer()).copy(big);
    emu.putObject('img/huge.png', big);
    const res = await fetchProcessed('img/huge.png', 'image/info');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>ImageTooLarge</Code>');
    // The object itself is still served.
    expect((await ossClient(emu).head('img/huge.png')).status).toBe(200);
  });
});
