/**
 * Results and sketch checks (issue 4): result PNGs follow the user's strokes; result URLs are signed
 * and refuse tampering; a sketch that cannot be fetched or is not a usable image ends the task
 * FAILED with the service's download/format/resolution error.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body, client, crossSketch, finish, FROZEN, startSketchServer, type SketchServer } from './dashscope-helpers.js';

/** The documented sketch size limit (10 MB); the simulator counts it in bytes, 10 × 1024 × 1024. */
const MAX_SKETCH_BYTES = 10 * 1024 * 1024;

/**
 * A valid 2048×2048 PNG of random pixels: random data does not compress, so the file is ~12.6 MB,
 * while its sides are within the limits, so size is the only thing wrong with it.
 */
async function oversizedSketch(): Promise<Buffer> {
  const side = 2048;
  const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  if (png.length <= MAX_SKETCH_BYTES) throw new Error(`oversized sketch is only ${png.length} bytes`);
  return png;
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const lum = (x: number, y: number) => {
    const o = (y * info.width + x) * info.channels;
    return 0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]!;
  };
  return { info, lum };
}

describe('DashScope simulator: results', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let oversized: Buffer;

  beforeAll(async () => {
    sketches = await startSketchServer();
    oversized = await oversizedSketch();
    sketches.put('/oversized.png', oversized); // served with its content-length
    sketches.put('/cross.png', await crossSketch(512));
    sketches.put('/cross.jpg', await crossSketch(600, 'jpeg'));
    sketches.put('/cross.webp', await crossSketch(300, 'webp'));
    sketches.put('/cross.gif', await crossSketch(512, 'gif'));
    sketches.put('/tiny.png', await crossSketch(128));
    sketches.put('/huge.png', await crossSketch(2100));
    sketches.put('/wide.png', await sharp({ create: { width: 1200, height: 400, channels: 3, background: '#fff' } }).png().toBuffer());
    sketches.put('/notes.txt.png', Buffer.from('this is not an image'));
    sketches.put('/truncated.png', (await crossSketch(512)).subarray(0, 400));
    sketches.put('/denied.png', Buffer.from('<Error><Code>AccessDenied</Code></Error>'), 403);
    sketches.put('/broken.png', Buffer.from('oops'), 500);
    sim = await startDashScopeSimulator({ timeScale: 0.005, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  });

  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  async function run(path: string, parameters?: Record<string, unknown>) {
    const api = client(sim);
    const created = await api.create(body(path.startsWith('http') ? path : sketches.url(path), parameters));
    expect(created.status).toBe(200);
    return api.wait(created.body.output.task_id);
  }

  it('renders n 768×768 PNGs whose strokes are where the sketch has strokes', async () => {
    const done = await run('/cross.png', { n: 2, style: '<watercolor>' });
    expect(done.body.output.task_status).toBe('SUCCEEDED');
    const images: Buffer[] = [];
    for (const r of done.body.output.results) {
      const res = await fetch(r.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      images.push(Buffer.from(await res.arrayBuffer()));
    }
    for (const png of images) {
      const { info, lum } = await pixels(png);
      expect([info.width, info.height, info.format]).toEqual([768, 768, 'raw']);
      // The cross's centre and points along both diagonals (strokes are ~60 px wide at 768).
      for (const [x, y] of [[384, 384], [230, 230], [538, 538], [538, 230], [230, 538]] as const) expect(lum(x, y), `stroke at ${x},${y}`).toBeLessThan(110);
      // Paper: corners of the middle band and the edges, far from any stroke.
      for (const [x, y] of [[384, 60], [384, 708], [60, 384], [708, 384], [20, 20]] as const) expect(lum(x, y), `paper at ${x},${y}`).toBeGreaterThan(170);
    }
    // Images of one task differ; the same sketch + style + index renders identically.
    expect(images[0]!.equals(images[1]!)).toBe(false);
    const again = await fetch(done.body.output.results[0].url);
    expect(Buffer.from(await again.arrayBuffer()).equals(images[0]!)).toBe(true);
  });

  it('follows sketch_color: only the listed colours are strokes', async () => {
    const red = await sharp(
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"><rect width="512" height="512" fill="white"/>' +
          '<rect x="60" y="200" width="150" height="112" fill="rgb(200,0,0)"/><rect x="300" y="200" width="150" height="112" fill="rgb(0,0,200)"/></svg>',
      ),
    )
      .png()
      .toBuffer();
    sketches.put('/red-blue.png', red);
    const done = await run('/red-blue.png', { n: 1, style: '<sketch>', sketch_color: [[200, 0, 0]] });
    const png = Buffer.from(await (await fetch(done.body.output.results[0].url)).arrayBuffer());
    const { lum } = await pixels(png);
    expect(lum(200, 384)).toBeLessThan(110); // red block (x 90–315 at 768): a stroke
    expect(lum(560, 384)).toBeGreaterThan(150); // blue block: background now
  });

  it('accepts JPEG and WEBP sketches and stretches them to 768×768', async () => {
    for (const path of ['/cross.jpg', '/cross.webp']) {
      const done = await run(path, { n: 1 });
      expect(done.body.output.task_status, path).toBe('SUCCEEDED');
      const { info, lum } = await pixels(Buffer.from(await (await fetch(done.body.output.results[0].url)).arrayBuffer()));
      expect(info.width).toBe(768);
      expect(lum(384, 384)).toBeLessThan(110);
    }
  });

  it('refuses tampered and unsigned result URLs like OSS does', async () => {
    const done = await run('/cross.png', { n: 1 });
    const url = new URL(done.body.output.results[0].url);
    url.searchParams.set('Signature', 'AAAA' + url.searchParams.get('Signature')!.slice(4));
    const tampered = await fetch(url);
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const later = new URL(done.body.output.results[0].url);
    later.searchParams.set('Expires', String(Number(later.searchParams.get('Expires')) + 3600));
    expect((await fetch(later)).status).toBe(403);
    const bare = await fetch(`${sim.origin}${url.pathname}`);
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain('<Code>AccessDenied</Code>');
  });

  const failures: Array<[string, string, RegExp]> = [
    ['/missing.png', 'InvalidParameter.DataInspection', /Failed to find the requested media resource/],
    ['/denied.png', 'InvalidParameter.DataInspection', /Don't have authorization to access the media resource/],
    ['/broken.png', 'InvalidParameter.DataInspection', /Unable to download the media resource/],
    ['/notes.txt.png', 'InvalidURL', /request image format is one of the following types/],
    ['/truncated.png', 'InvalidURL', /request image format/],
    ['/cross.gif', 'InvalidParameter', /format of image .*cross\.gif is not valid/],
    ['/tiny.png', 'InvalidFile.Resolution', /resolution is invalid/],
    ['/huge.png', 'InvalidFile.Resolution', /resolution is invalid/],
    ['/wide.png', 'InvalidFile.Resolution', /aspect ratio/],
    ['/oversized.png', 'InvalidFile.Size', /^The image size is invalid, please make sure the image file is smaller than 10MB\.$/],
  ];
  for (const [path, code, message] of failures) {
    it(`a sketch at ${path} ends the task FAILED ${code}`, async () => {
      const done = await run(path, { n: 2 });
      expect(done.status).toBe(200);
      expect(done.body.output).toMatchObject({ task_status: 'FAILED', code, message: expect.stringMatching(message), task_metrics: { TOTAL: 2, SUCCEEDED: 0, FAILED: 2 } });
      expect(done.body.output.results).toBeUndefined();
      expect(done.body.usage).toBeUndefined();
    });
  }

  it('an oversized sketch sent without content-length (chunked) also ends the task FAILED InvalidFile.Size', async () => {
    // No content-length to refuse it by: the size is known only from the bytes read.
    const chunked = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      for (let at = 0; at < oversized.length; at += 1024 * 1024) res.write(oversized.subarray(at, at + 1024 * 1024));
      res.end();
    });
    await new Promise<void>((r) => chunked.listen(0, '127.0.0.1', r));
    try {
      const done = await run(`http://127.0.0.1:${(chunked.address() as AddressInfo).port}/oversized.png`, { n: 1 });
      expect(done.body.output).toMatchObject({
        task_status: 'FAILED',
        code: 'InvalidFile.Size',
        message: 'The image size is invalid, please make sure the image file is smaller than 10MB.',
      });
    } finally {
      chunked.closeAllConnections();
      await new Promise<void>((r) => chunked.close(() => r()));
    }
  });

  it('an unreachable host ends the task FAILED with a download error', async () => {
    const closed = await startSketchServer();
    const url = closed.url('/gone.png');
    await closed.close();
    const done = await run(url, { n: 1 });
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection', message: expect.stringMatching(/Unable to download/) });
  });

  it('a CJK character in the URL is refused (InvalidURL)', async () => {
    const done = await run(sketches.url('/草图.png'), { n: 1 });
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidURL' });
  });

  it('the sketch is fetched when the task starts, not when it is created', async () => {
    const slow = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 1000, queriesPerSecond: 1000 });
    try {
      const api = client(slow);
      sketches.put('/later-a.png', await crossSketch());
      sketches.put('/later-b.png', await crossSketch());
      const a = await api.create(body(sketches.url('/later-a.png')));
      const b = await api.create(body(sketches.url('/later-b.png')));
      await slow.flush();
      expect(sketches.hits.filter((h) => h.startsWith('/later-b'))).toHaveLength(0);
      await finish(slow, api, a.body.output.task_id);
      await finish(slow, api, b.body.output.task_id);
      expect(sketches.hits.filter((h) => h.startsWith('/later-b'))).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });
});
