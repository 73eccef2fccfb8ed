/**
 * `sketchflow local --dashscope real`: the real model cannot fetch a loopback presigned URL, so
 * each sketch goes through DashScope's temporary upload (getPolicy → form upload → `oss://` URL,
 * sent with `X-DashScope-OssResourceResolve: enable`). Run "as if real" against the simulator's
 * base URL, which implements that flow (and refuses an `oss://` URL without the header).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError, TransportError } from '../../lib/errors.js';
import type { CreateTaskInput, ImageModel } from '../../lib/core/ports.js';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { TemporaryUploader, withTemporaryUploads } from '../../lib/local/temp-upload.js';
import { killAll, putFiles, readManifest, removeTmpDirs, run, tmpDir } from './helpers.js';

let sim: DashScopeSimulator;

beforeAll(async () => {
  sim = await startDashScopeSimulator({ timeScale: 0.01, seed: 3 });
});

afterAll(async () => {
  killAll();
  removeTmpDirs();
  await sim?.close();
});

describe('local mode with the real model, through the temporary upload', () => {
  it('processes local sketches via getPolicy → form upload → oss:// with the resolve header', async () => {
    const dir = tmpDir();
    putFiles(dir, {
      'cat.png': { example: 'cat.png' },
      'cat.json': { example: 'cat.json' },
      // 1200×800: the pipeline's normalized view (OSS image processing in the presigned URL) is what gets uploaded
      'boat.png': { example: 'boat.png' },
      'boat.json': { example: 'boat.json' },
    });
    const { code, stdout, stderr } = await run(['local', '--once', '--dashscope', 'real', '--dir', dir], {
      env: { DASHSCOPE_API_KEY: sim.apiKey, DASHSCOPE_BASE_URL: sim.baseUrl, POLL_INTERVAL_SECONDS: '0.1' },
      timeoutMs: 30_000,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/DashScope: the real model at http:\/\/127\.0\.0\.1:\d+\/api\/v1 \(sketches go through DashScope's temporary upload\)/);
    for (const job of ['cat', 'boat']) expect(readManifest(dir, `sketches/${job}`)?.status, job).toBe('SUCCEEDED');
    expect(readManifest(dir, 'sketches/boat')?.request?.normalized).toBe(true);

    const uploads = sim.records.uploads.filter((u) => u.apiKeyId === sim.apiKeyId);
    expect(uploads.filter((u) => u.kind === 'getPolicy' && u.status === 200)).toHaveLength(2);
    const files = uploads.filter((u) => u.kind === 'upload');
    expect(files.map((u) => u.status)).toEqual([200, 200]);
    for (const u of files) expect(u.key).toMatch(/^dashscope-instant\/.+\/sketch-[0-9a-f-]+\.png$/);
    // Every accepted create named an uploaded file, never a loopback URL.
    const creates = sim.records.creates.filter((c) => c.taskId);
    expect(creates).toHaveLength(2);
    expect(creates.map((c) => c.sketchUrl).sort()).toEqual(files.map((u) => `oss://${u.key}`).sort());
  }, 40_000);

  it('the decorator marks oss:// URLs for resolution and passes everything else through', async () => {
    const seen: CreateTaskInput[] = [];
    const inner: ImageModel = {
      createTask: async (input) => {
        seen.push(input);
        return { taskId: 't1' };
      },
      getTask: async (taskId) => ({ taskId, status: 'PENDING', results: [], imageCount: 0 }),
      cancelTask: async () => true,
      listLiveTasks: async () => [],
      downloadResult: async () => {
        throw new Error('unused');
      },
    };
    const model = withTemporaryUploads(inner, { apiKey: sim.apiKey, baseUrl: sim.baseUrl });
    await model.createTask({ model: 'wanx-sketch-to-image-lite', prompt: 'p', sketchUrl: 'oss://dashscope-instant/x/a.png', parameters: { style: '<auto>', size: '768*768', n: 1 } });
    expect(seen[0]).toMatchObject({ sketchUrl: 'oss://dashscope-instant/x/a.png', ossResourceResolve: true });
    expect((await model.getTask('t9')).taskId).toBe('t9');
  });

  it('upload failures are reported like refused creates: the service’s 4xx is terminal, an unreachable host is transient', async () => {
    const wrongKey = new TemporaryUploader({ apiKey: 'sk-wrong', baseUrl: sim.baseUrl });
    await expect(wrongKey.getPolicy()).rejects.toMatchObject({ name: 'ModelError', status: 401 });
    const uploader = new TemporaryUploader({ apiKey: sim.apiKey, baseUrl: sim.baseUrl });
    const missing = await uploader.rehost(`${sim.origin}/no-such-sketch.png`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ModelError);
    const down = await new TemporaryUploader({ apiKey: sim.apiKey, baseUrl: 'http://127.0.0.1:9/api/v1' }).getPolicy().catch((e: unknown) => e);
    expect(down).toBeInstanceOf(TransportError);
    expect((down as TransportError).sent).toBe(false);
  });
});
