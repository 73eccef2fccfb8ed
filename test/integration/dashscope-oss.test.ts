/**
 * The simulator fetching sketches from the OSS emulator through V4 presigned URLs, as the pipeline
 * sends them (issue 4 "Done when"): a valid URL (also with x-oss-process normalization) succeeds;
 * an expired or tampered one ends the task FAILED with the service's download error. Both
 * stand-ins share the simulated clock, so a URL expires while its task waits in the queue.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { body, client, crossSketch } from './dashscope-helpers.js';
import { ossClient, type OssClient } from './oss-client.js';

describe('DashScope simulator with presigned OSS URLs', () => {
  let sim: DashScopeSimulator;
  let oss: OssEmulator;
  let store: OssClient;

  beforeAll(async () => {
    sim = await startDashScopeSimulator({ timeScale: 0.005, submitsPerSecond: 100, queriesPerSecond: 1000, jitter: 0 });
    oss = await startOssEmulator({ now: () => sim.now() });
    // Signature V4 from the bare IP endpoint, as the pipeline's adapter does (docs/reference/notes.md).
    store = ossClient(oss);
    oss.putObject('sketches/cat.png', await crossSketch());
    oss.putObject('sketches/wide.png', await sharp({ create: { width: 1200, height: 400, channels: 3, background: '#fff' } }).png().toBuffer());
  });

  afterAll(async () => {
    await sim?.close();
    await oss?.close();
  });

  const presign = (key: string, seconds: number, queries?: Record<string, string>) => store.signatureUrlV4('GET', seconds, queries ? { queries } : undefined, key);

  it('a valid presigned URL: SUCCEEDED; the recorded URL has its signature redacted', async () => {
    const url = await presign('sketches/cat.png', 1800);
    const api = client(sim);
    const done = await api.wait((await api.create(body(url))).body.output.task_id);
    expect(done.body.output.task_status).toBe('SUCCEEDED');
    const rec = sim.records.submissionsFor('/sketches/cat.png').at(-1)!;
    const sig = new URL(url).searchParams.get('x-oss-signature')!;
    expect(JSON.stringify(rec.body)).not.toContain(sig);
    expect(JSON.stringify(rec.body)).toContain('x-oss-signature=[REDACTED]');
    expect(oss.records.some((r) => r.action === 'oss:GetObject' && r.presigned && r.key === 'sketches/cat.png' && r.status === 200)).toBe(true);
  });

  it('a normalized view (x-oss-process in the signed URL) of an unfit sketch: SUCCEEDED', async () => {
    const api = client(sim);
    const raw = await api.wait((await api.create(body(await presign('sketches/wide.png', 1800)))).body.output.task_id);
    expect(raw.body.output.code).toBe('InvalidFile.Resolution');
    const url = await presign('sketches/wide.png', 1800, { 'x-oss-process': 'image/resize,m_pad,w_768,h_768,color_FFFFFF/format,png' });
    const done = await api.wait((await api.create(body(url))).body.output.task_id);
    expect(done.body.output.task_status).toBe('SUCCEEDED');
  });

  it('an URL that expires while its task waits in the queue: FAILED with the download error', async () => {
    const api = client(sim);
    const first = await api.create(body(await presign('sketches/cat.png', 1800)));
    // Valid for 5 simulated seconds; its task can only start after the first one's 20 s.
    const second = await api.create(body(await presign('sketches/cat.png', 5)));
    expect((await api.wait(first.body.output.task_id)).body.output.task_status).toBe('SUCCEEDED');
    const done = await api.wait(second.body.output.task_id);
    expect(done.body.output).toMatchObject({
      task_status: 'FAILED',
      code: 'InvalidParameter.DataInspection',
      message: "Don't have authorization to access the media resource during the data inspection process.",
    });
    expect(oss.records.at(-1)).toMatchObject({ action: 'oss:GetObject', status: 403 });
  });

  it('a tampered presigned URL: FAILED with the download error', async () => {
    const url = new URL(await presign('sketches/cat.png', 1800));
    const sig = url.searchParams.get('x-oss-signature')!;
    url.searchParams.set('x-oss-signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    const api = client(sim);
    const done = await api.wait((await api.create(body(url.toString()))).body.output.task_id);
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection', message: expect.stringMatching(/authorization/) });
  });

  it('an object deleted before its task starts: FAILED (not found)', async () => {
    oss.putObject('sketches/gone.png', await crossSketch());
    const url = await presign('sketches/gone.png', 1800);
    await store.delete('sketches/gone.png');
    const api = client(sim);
    const done = await api.wait((await api.create(body(url))).body.output.task_id);
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection', message: expect.stringMatching(/Failed to find/) });
  });
});
