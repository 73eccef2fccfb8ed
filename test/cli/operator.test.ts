/**
 * `sketchflow status | retry | backfill` (SPEC §7):
 * - against the configured services (settings and credentials from the environment), here the
 *   loopback stand-ins of a running pipeline: status lists jobs with state, age and why a queued
 *   job waits; a clear one-line error (exit 2) when credentials or endpoints are missing;
 * - with `--dir DIR` and nothing running on it: the local stack on DIR in this process — backfill
 *   queues a sketch that was in the bucket before the pipeline started, retry processes a
 *   finished sketch again (a second DashScope task, a new manifest).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineStatus } from '../../lib/core/operations.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { FAST_ENV, putFiles, readManifest, removeTmpDirs, runMain, tmpDir } from './helpers.js';

afterAll(() => removeTmpDirs());

describe('against the configured services (environment)', () => {
  let p: TestPipeline;
  let env: Record<string, string>;

  beforeAll(async () => {
    p = await startTestPipeline({ env: { MAX_IMAGES_PER_DAY: '1' } });
    const d = p.stack.describe();
    env = {
      OSS_BUCKET: d.oss.bucket,
      OSS_REGION: d.oss.region,
      OSS_ENDPOINT: d.oss.endpoint,
      TABLESTORE_ENDPOINT: d.tablestore.endpoint,
      TABLESTORE_INSTANCE: d.tablestore.instance,
      ALIBABA_CLOUD_ACCESS_KEY_ID: d.oss.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: d.oss.accessKeySecret,
      MAX_IMAGES_PER_DAY: '1',
    };
    const sketch = await lineSketch(512);
    await p.put('sketches/a.json', JSON.stringify({ prompt: 'a house' }));
    await p.put('sketches/a.png', sketch);
    await p.waitForManifest('sketches/a');
    // The day's one image is spent: the next sketch waits in QUEUED, and says why.
    await p.put('sketches/b.txt', 'another house');
    await p.put('sketches/b.png', sketch);
    await p.waitFor('b to wait for the budget', () => p.states('sketches/b').some((r) => r.state === 'QUEUED'));
    await p.waitFor('the waiting reason', async () => (await runMain(['status', '--json'], env)).stdout.includes('daily image budget'));
  }, 30_000);

  afterAll(async () => {
    await p?.close();
  });

  it('status lists jobs with state, age and why a queued job waits, slots, queue and budget', async () => {
    const { code, stdout, stderr } = await runMain(['status'], env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^JOB\s+STATE\s+AGE\s+MODEL\s+DETAIL$/m);
    expect(stdout).toMatch(/^sketches\/a\s+SUCCEEDED\s+\d+s\s+wanx-sketch-to-image-lite\s+task \S+$/m);
    expect(stdout).toMatch(/^sketches\/b\s+QUEUED\s+\d+s\s+wanx-sketch-to-image-lite\s+waiting: the daily image budget \(MAX_IMAGES_PER_DAY=1\) is used up for \d{4}-\d\d-\d\d; it resumes after midnight Asia\/Shanghai$/m);
    expect(stdout).toMatch(/^2 jobs: 1 SUCCEEDED, 1 QUEUED \(bucket sketchflow-local, Tablestore \S+\/sketchflow_jobs\)$/m);
    // Each model's slots (SPEC §4.3): 2 + 3 + 6 with MAX_IN_FLIGHT=2.
    expect(stdout).toMatch(/^in flight: 0 of 11 slots$/m);
    expect(stdout).toMatch(/^  wanx-sketch-to-image-lite: 0 of 2 in flight, \d+ queued \(runs 1 at a time, 2 creates\/s, CNY 0\.06 an image\)$/m);
    expect(stdout).toMatch(/^  wan2\.5-i2i-preview: 0 of 6 in flight, 0 queued \(runs 5 at a time, 5 creates\/s, CNY 0\.2 an image\)$/m);
    expect(stdout).toMatch(/^spent today: CNY [\d.]+ \(no limit: MAX_CNY_PER_DAY=0\)$/m);
    expect(stdout).toMatch(/^queue: \d+$/m); // queue rows are hints (a re-enqueued version may count twice until read)
    expect(stdout).toMatch(/^images today \(\d{4}-\d\d-\d\d, Asia\/Shanghai\): 1 of 1$/m);
  });

  it('status --json for machines, PREFIX narrows the list', async () => {
    const all = JSON.parse((await runMain(['status', '--json'], env)).stdout) as PipelineStatus;
    expect(all.jobs.map((j) => [j.jobKey, j.state])).toEqual([
      ['sketches/a', 'SUCCEEDED'],
      ['sketches/b', 'QUEUED'],
    ]);
    expect(all.jobs[1]!.waitingFor).toMatch(/daily image budget/);
    expect(all.budget).toMatchObject({ used: 1, max: 1 });
    const some = JSON.parse((await runMain(['status', 'sketches/b', '--json'], env)).stdout) as PipelineStatus;
    expect(some.jobs.map((j) => j.jobKey)).toEqual(['sketches/b']);
  });

  it('retry records a new version for the deployed pipeline to pick up', async () => {
    const withKey = { ...env, DASHSCOPE_API_KEY: p.stack.dashscope.apiKey, DASHSCOPE_BASE_URL: p.stack.dashscope.baseUrl };
    const { code, stdout, stderr } = await runMain(['retry', 'sketches/a.png'], withKey);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sketches\/a: a new version, QUEUED$/m);
    expect(stdout).toMatch(/the pipeline picks it up; its new manifest will be sketches\/a\.result\.json/);
    const st = JSON.parse((await runMain(['status', '--json'], env)).stdout) as PipelineStatus;
    expect(st.jobs.find((j) => j.jobKey === 'sketches/a')?.state).toBe('QUEUED');
  });

  it('missing endpoints or credentials: one line, exit 2', async () => {
    const none = await runMain(['status'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^sketchflow: cannot reach the configured services: OSS_BUCKET is required; TABLESTORE_ENDPOINT is required; TABLESTORE_INSTANCE is required; ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are required .*use --dir DIR for a local bucket folder\n$/);
    const { ALIBABA_CLOUD_ACCESS_KEY_ID: _id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: _secret, ...noCredentials } = env;
    const noCreds = await runMain(['backfill', 'sketches/'], { ...noCredentials, DASHSCOPE_API_KEY: 'sk-1' });
    expect(noCreds.code).toBe(2);
    expect(noCreds.stderr).toMatch(/^sketchflow: cannot reach the configured services: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are required[^\n]*\n$/);
    const noKey = await runMain(['retry', 'sketches/a.png'], env);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^sketchflow: cannot reach the configured services: DASHSCOPE_API_KEY is required[^\n]*\n$/);
  });

  it('no command: the usage on stderr, exit 2; help: the usage on stdout, exit 0', async () => {
    const none = await runMain([], {});
    expect([none.code, none.stdout]).toEqual([2, '']);
    expect(none.stderr).toMatch(/^usage: sketchflow <command>/);
    const help = await runMain(['--help'], {});
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^usage: sketchflow <command>/);
  });

  it.each([
    [['retry'], /which sketch\?/],
    [['backfill'], /which prefix\?/],
    [['status', 'a/', 'b/'], /unexpected argument 'b\/'/],
    [['status', '--verbose'], /Unknown option '--verbose'/],
    [['retry', 'elsewhere/cat.png'], /elsewhere\/cat\.png is outside the watched prefix 'sketches\/'/],
  ] as Array<[string[], RegExp]>)('%j is a usage error (exit 2)', async (argv, message) => {
    const { code, stderr } = await runMain(argv, { ...env, DASHSCOPE_API_KEY: 'sk-1' });
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^sketchflow: .*${message.source}`));
  });
});

describe('--dir DIR with no sketchflow local running on it', () => {
  let dir: string;

  beforeAll(async () => {
    dir = tmpDir();
    putFiles(dir, { 'cat.png': { example: 'cat.png' }, 'cat.json': { example: 'cat.json' } });
    const first = await runMain(['local', '--once', '--dir', dir, '--task-seconds', '0.2']);
    expect(first.code, first.stderr).toBe(0);
  }, 30_000);

  it('backfill queues a sketch that was in the bucket before the pipeline started, and runs it', async () => {
    // Copied in while nothing was running: no event announced it.
    putFiles(dir, { 'early/boat.png': { example: 'boat.png' }, 'early/boat.txt': 'a paper boat on a pond' });
    const { code, stdout, stderr } = await runMain(['backfill', 'sketches/', '--dir', dir], FAST_ENV);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^2 sketches, 1 already has a manifest, 1 queued$/m);
    expect(stdout).toMatch(/^  sketches\/early\/boat  QUEUED$/m);
    expect(stdout).toMatch(/early\/boat\s+SUCCEEDED\s+in \d+\.\ds → \S*sketches\/early\/boat\.result-1\.png/);
    expect(readManifest(dir, 'sketches/early/boat')?.status).toBe('SUCCEEDED');
  }, 20_000);

  it('status --dir lists the jobs with state and age', async () => {
    const { code, stdout } = await runMain(['status', '--dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sketches\/cat\s+SUCCEEDED\s+\d+s\s+wanx-sketch-to-image-lite\s+task \S+$/m);
    expect(stdout).toMatch(/^sketches\/early\/boat\s+SUCCEEDED\s+\d+s\s+wanx-sketch-to-image-lite\s+task \S+$/m);
    expect(stdout).toMatch(new RegExp(`2 jobs: 2 SUCCEEDED \\(the local bucket folder .*${path.basename(dir)}\\)`));
  }, 20_000);

  it('retry --dir processes a finished sketch again: a second DashScope task and a new manifest', async () => {
    const before = readManifest(dir, 'sketches/cat')!;
    const { code, stdout } = await runMain(['retry', 'sketches/cat', '--dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/cat\s+SUCCEEDED\s+in \d+\.\ds → \S*sketches\/cat\.result-1\.png/);
    const after = readManifest(dir, 'sketches/cat')!;
    expect(after.status).toBe('SUCCEEDED');
    expect(after.task?.id).toBeTruthy();
    expect(after.task?.id).not.toBe(before.task?.id);
    expect(after.finishedAt > before.finishedAt).toBe(true);
  }, 20_000);

  it('status --dir on a folder that does not exist is a usage error', async () => {
    const { code, stderr } = await runMain(['status', '--dir', path.join(dir, 'nope')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/nope does not exist \(sketchflow local --dir \S+ creates it\)/);
  });
});
