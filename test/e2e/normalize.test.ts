/**
 * SPEC §3 normalization: sketches that don't fit DashScope are sent as a normalized 768×768 view
 * made by OSS image processing inside the presigned URL (no pixels pass through the function);
 * a square 1024 PNG is sent as it is. The simulator's record shows what was sent and fetched.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dimensions, lineSketch, phonePhoto } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline();
});
afterAll(async () => {
  await p?.close();
});

function sentUrl(sketchKey: string): URL {
  const creates = p.stack.dashscope.records.submissionsFor(`/${sketchKey}`);
  if (creates.length !== 1) console.log(p.logs.filter((l) => l.includes(sketchKey.replace(/\.\w+$/, ''))).join('\n'));
  expect(creates).toHaveLength(1);
  return new URL((creates[0]!.body as { input: { sketch_image_url: string } }).input.sketch_image_url);
}

const NORMALIZE = 'image/auto-orient,1/resize,m_pad,w_768,h_768,limit_0,color_FFFFFF/format,png';

describe('normalization', () => {
  it('a 4032×3024 EXIF-rotated phone photo goes as a padded 768×768 PNG view', async () => {
    await p.put('sketches/norm/photo.json', JSON.stringify({ prompt: 'a house' }));
    await p.put('sketches/norm/photo.jpg', await phonePhoto());
    const m = await p.waitForManifest('sketches/norm/photo', 30_000);
    expect(m.status).toBe('SUCCEEDED');
    expect(m.request?.normalized).toBe(true);
    expect(m.warnings.join(' ')).toContain('sent as a normalized 768×768 PNG view (EXIF orientation 6)');
    const url = sentUrl('sketches/norm/photo.jpg');
    expect(url.searchParams.get('x-oss-process')).toBe(NORMALIZE);
    // What DashScope fetched through that URL is what OSS made of it: OSS recorded the processing.
    const fetched = p.stack.oss.records.filter((r) => r.key === 'sketches/norm/photo.jpg' && r.presigned);
    expect(fetched.map((r) => r.process)).toContain(NORMALIZE);
  });

  it('a 200×150 sketch is scaled up and padded to 768×768', async () => {
    await p.put('sketches/norm/tiny.json', JSON.stringify({ prompt: 'a house' }));
    await p.put('sketches/norm/tiny.png', await lineSketch(200, 150));
    await p.waitForManifest('sketches/norm/tiny');
    const url = sentUrl('sketches/norm/tiny.png');
    expect(url.searchParams.get('x-oss-process')).toBe(NORMALIZE);
    // Fetch the same view ourselves: OSS really makes a 768×768 white-padded PNG of it.
    const signed = await p.client.signatureUrlV4('GET', 60, { queries: { 'x-oss-process': NORMALIZE } }, 'sketches/norm/tiny.png');
    const view = Buffer.from(await (await fetch(signed)).arrayBuffer());
    expect(await dimensions(view)).toEqual({ width: 768, height: 768, format: 'png' });
    const { data } = await sharp(view).raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[1], data[2]]).toEqual([255, 255, 255]); // padding is white
  });

  it('a square 1024 PNG is sent as it is', async () => {
    await p.put('sketches/norm/square.json', JSON.stringify({ prompt: 'a house' }));
    await p.put('sketches/norm/square.png', await lineSketch(1024));
    const m = await p.waitForManifest('sketches/norm/square');
    expect(m.request?.normalized).toBe(false);
    expect(sentUrl('sketches/norm/square.png').searchParams.has('x-oss-process')).toBe(false);
  });

  it('the presigned URL sent to DashScope is V4 and expires after SKETCH_URL_TTL_SECONDS', async () => {
    const url = sentUrl('sketches/norm/square.png');
    expect(url.searchParams.get('x-oss-signature-version')).toBe('OSS4-HMAC-SHA256');
    expect(url.searchParams.get('x-oss-expires')).toBe('1800');
    expect(url.searchParams.get('x-oss-signature')).toBe('[REDACTED]'); // the simulator never stores signatures
  });
});
