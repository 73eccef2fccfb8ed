/**
 * `sketchflow retry PREFIX --failed` (SPEC §7): after a bad `_defaults.json` is fixed (or an
 * account problem is over), every job under PREFIX whose current version failed is processed
 * again in one command, with a line per job and a summary; exit 1 when some fail again at once.
 * On the configured services (here the stand-ins of a running pipeline, through the environment)
 * and with `--dir` on a local bucket folder, where the work is run to the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { FAST_ENV, putFiles, readManifest, removeTmpDirs, runMain, tmpDir } from '../cli/helpers.js';

afterAll(() => removeTmpDirs());

const BAD_DEFAULTS = JSON.stringify({ prompt: 'a lighthouse', colour: 'red' });

describe('against the configured services (environment)', () => {
  let p: TestPipeline;
  let env: Record<string, string>;
  const batch = ['sketches/batch/a', 'sketches/batch/b', 'sketches/batch/深/c'];

  beforeAll(async () => {
    p = await startTestPipeline();
    const d = p.stack.describe();
    env = {
      OSS_BUCKET: d.oss.bucket,
      OSS_REGION: d.oss.region,
      OSS_ENDPOINT: d.oss.endpoint,
      TABLESTORE_ENDPOINT: d.tablestore.endpoint,
      TABLESTORE_INSTANCE: d.tablestore.instance,
      DASHSCOPE_API_KEY: d.dashscope.apiKey,
      DASHSCOPE_BASE_URL: d.dashscope.baseUrl,
      ALIBABA_CLOUD_ACCESS_KEY_ID: d.oss.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: d.oss.accessKeySecret,
    };
    const sketch = await lineSketch(512);
    // A bad _defaults.json fails a whole folder; another folder fails the same way.
    await p.put('sketches/batch/_defaults.json', BAD_DEFAULTS);
    await p.put('sketches/other/_defaults.json', BAD_DEFAULTS);
    for (const job of [...batch, 'sketches/other/d']) await p.put(`${job}.png`, sketch);
    await p.put('sketches/fine.txt', 'a windmill');
    await p.put('sketches/fine.png', sketch);
    for (const job of [...batch, 'sketches/other/d']) expect((await p.waitForManifest(job)).error?.code).toBe('InvalidSidecar');
    expect((await p.waitForManifest('sketches/fine')).status).toBe('SUCCEEDED');
    // Fixed: a _defaults.json never regenerates finished jobs by itself.
    await p.put('sketches/batch/_defaults.json', JSON.stringify({ prompt: 'a lighthouse' }));
    await p.idle();
    for (const job of batch) expect(p.manifest(job)!.status).toBe('FAILED');
  }, 30_000);

  afterAll(async () => {
    await p?.close();
  });

  it('retries every failed job under the prefix, one line each, and a summary; the pipeline finishes them', async () => {
    const { code, stdout, stderr } = await runMain(['retry', 'sketches/batch/', '--failed'], env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^retry the failed jobs under sketches\/batch\/ \(bucket sketchflow-local, Tablestore \S+\)$/m);
    for (const [i, job] of batch.entries()) {
      expect(stdout).toMatch(new RegExp(`^  \\[${i + 1}/3\\] ${job}  FAILED \\(InvalidSidecar\\) → (QUEUED|SUBMITTING|SUBMITTED|RUNNING)$`, 'm'));
    }
    expect(stdout).toMatch(/^3 failed jobs under sketches\/batch\/: 3 retried — 3 queued or in flight, 0 failed again at once$/m);
    expect(stdout).toMatch(/^the pipeline picks them up \(sketchflow status to follow\)$/m);
    expect(stdout).not.toMatch(/sketches\/other\/d|sketches\/fine/);
    for (const job of batch) {
      const m = await p.waitFor(`${job} to succeed`, () => (p.manifest(job)?.status === 'SUCCEEDED' ? p.manifest(job) : undefined));
      expect(m.request?.prompt).toBe('a lighthouse');
    }
    expect(p.manifest('sketches/other/d')!.status).toBe('FAILED');
    expect(p.submissions('sketches/fine.png')).toBe(1); // a job that had succeeded is left alone
  });

  it('nothing failed under the prefix any more: says so, exit 0', async () => {
    await p.idle();
    const { code, stdout } = await runMain(['retry', 'sketches/batch/', '--failed'], env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^no failed job under sketches\/batch\/$/m);
  });

  it('a cause not fixed fails again at once: counted in the summary, exit 1', async () => {
    const { code, stdout } = await runMain(['retry', 'sketches/other/', '--failed'], env);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^  \[1\/1\] sketches\/other\/d  FAILED \(InvalidSidecar\) → FAILED \(InvalidSidecar\)$/m);
    expect(stdout).toMatch(/^1 failed job under sketches\/other\/: 1 retried — 0 queued or in flight, 1 failed again at once$/m);
  });

  it('--failed without a prefix is a usage error (exit 2)', async () => {
    const { code, stderr } = await runMain(['retry', '--failed'], env);
    expect(code).toBe(2);
    expect(stderr).toMatch(/which prefix\?/);
  });
});

describe('--dir DIR with no sketchflow local running on it', () => {
  it('retries the failed jobs of the folder and runs them to the end here', async () => {
    const dir = tmpDir();
    putFiles(dir, { 'cat.png': { example: 'cat.png' }, 'boat.png': { example: 'boat.png' }, '_defaults.json': BAD_DEFAULTS });
    const first = await runMain(['local', '--once', '--dir', dir, '--task-seconds', '0.2'], FAST_ENV);
    expect(first.code).toBe(1);
    expect(readManifest(dir, 'sketches/cat')?.error?.code).toBe('InvalidSidecar');
    fs.writeFileSync(path.join(dir, 'sketches', '_defaults.json'), JSON.stringify({ prompt: 'a ginger cat' }));

    const { code, stdout, stderr } = await runMain(['retry', 'sketches/', '--failed', '--dir', dir], FAST_ENV);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^  \[1\/2\] sketches\/boat  FAILED \(InvalidSidecar\) → \S+$/m);
    expect(stdout).toMatch(/^  \[2\/2\] sketches\/cat  FAILED \(InvalidSidecar\) → \S+$/m);
    expect(stdout).toMatch(/^2 failed jobs under sketches\/: 2 retried — 2 queued or in flight, 0 failed again at once$/m);
    expect(stdout).toMatch(/^after the retry: 2 succeeded, 0 failed$/m);
    for (const job of ['sketches/cat', 'sketches/boat']) expect(readManifest(dir, job)?.status, job).toBe('SUCCEEDED');
  }, 40_000);
});
