/**
 * `sketchflow local` as a person runs it, in a child process (issue 6, "Done when"): the first run
 * seeds the folder with the examples and processes them; a sketch and its sidecar copied into
 * DIR/sketches/ become an upload whose manifest and results appear next to it; the progress shows
 * one line per state change and the live counts; `status` and `retry --dir` act through the
 * running process; Ctrl-C (SIGINT) stops it cleanly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, killAll, readManifest, removeTmpDirs, run, sketchflow, tmpDir, waitFor, type Cli } from './helpers.js';

const EXAMPLE_JOBS = ['bicycle', 'boat', 'cat', 'house', 'teapot', 'tree'];

let dir: string;
let cli: Cli;

beforeAll(() => {
  dir = path.join(tmpDir(), 'bucket'); // does not exist yet: the first run creates and seeds it
  cli = sketchflow(['local', '--dir', dir, '--task-seconds', '0.2']);
});

afterAll(() => {
  killAll();
  removeTmpDirs();
});

describe('sketchflow local (child process)', () => {
  it('seeds the examples on first run and processes them', async () => {
    await cli.waitForOutput(/Ctrl-C to stop/);
    expect(cli.stdout).toMatch(/first run: copied 6 example sketches into/);
    const inputs = fs.readdirSync(path.join(dir, 'sketches')).filter((n) => !/\.result(-\d+)?\.\w+$/.test(n));
    expect(inputs.sort()).toEqual(fs.readdirSync(EXAMPLES).sort());
    const manifests = await waitFor('the examples to finish', () => {
      const all = EXAMPLE_JOBS.map((n) => readManifest(dir, `sketches/${n}`));
      return all.every(Boolean) ? all : undefined;
    });
    expect(manifests.map((m) => m!.status)).toEqual(Array(6).fill('SUCCEEDED'));
    expect(readManifest(dir, 'sketches/house')!.results.map((r) => r.key)).toEqual(['sketches/house.result-1.png', 'sketches/house.result-2.png']);
  }, 90_000);

  it('a sketch and sidecar copied into sketches/ become an upload, with progress lines and counts', async () => {
    fs.mkdirSync(path.join(dir, 'sketches/mine'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sketches/mine/kitty.json'), JSON.stringify({ prompt: 'a black kitten', style: 'anime' }));
    fs.copyFileSync(path.join(EXAMPLES, 'cat.png'), path.join(dir, 'sketches/mine/kitty.png'));
    const manifest = await waitFor('the copied sketch to finish', () => readManifest(dir, 'sketches/mine/kitty'));
    expect(manifest.status).toBe('SUCCEEDED');
    expect(manifest.request?.parameters.style).toBe('<anime>');
    expect(fs.existsSync(path.join(dir, 'sketches/mine/kitty.result-1.png'))).toBe(true);

    // One line per state change: the clock, the sketch, the state (and the task, the results).
    await cli.waitForOutput(/mine\/kitty\s+SUCCEEDED\s+in \d+\.\ds → \S*sketches\/mine\/kitty\.result-1\.png/);
    const lines = cli.stdout.split('\n').filter((l) => / mine\/kitty /.test(l));
    const states = lines.map((l) => /^\s+\d+\.\ds\s+mine\/kitty\s+(\S+)/.exec(l)?.[1]);
    expect(states).toEqual(['QUEUED', 'SUBMITTING', 'SUBMITTED', 'RUNNING', 'FINALIZING', 'SUCCEEDED'].filter((s) => states.includes(s)));
    expect(states[0]).toBe('QUEUED');
    expect(states.at(-1)).toBe('SUCCEEDED');
    expect(cli.stdout).toMatch(/mine\/kitty\s+SUBMITTED\s+task [0-9a-f]{8}…/);
    // Not a terminal: the live counts come as summary lines after changes.
    await cli.waitForOutput(/^-- queued 0 · in flight 0 · done 7 · failed 0$/m);
    expect(cli.stderr).toBe('');
    // The gallery shows it.
    await waitFor('the gallery to show the new sketch', () => fs.readFileSync(path.join(dir, 'index.html'), 'utf8').includes('sketches/mine/kitty.result-1.png'));
  }, 30_000);

  it('status --dir lists the jobs through the running process, with state and age', async () => {
    const { code, stdout, stderr } = await run(['status', '--dir', dir]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^JOB\s+STATE\s+AGE\s+MODEL\s+DETAIL$/m);
    for (const job of [...EXAMPLE_JOBS, 'mine/kitty']) expect(stdout).toMatch(new RegExp(`^sketches/${job}\\s+SUCCEEDED\\s+\\d+s\\s+wanx-sketch-to-image-lite\\s+task \\S+$`, 'm'));
    expect(stdout).toMatch(/7 jobs: 7 SUCCEEDED \(the sketchflow local running on .* \(pid \d+\)\)/);
    // Each model's slots (SPEC §4.3): 2 + 3 + 6 with MAX_IN_FLIGHT=2.
    expect(stdout).toMatch(/^in flight: 0 of 11 slots$/m);
    expect(stdout).toMatch(/^  wanx-sketch-to-image-lite: 0 of 2 in flight, \d+ queued \(runs 1 at a time, 2 creates\/s, CNY 0\.06 an image\)$/m);
    expect(stdout).toMatch(/^  wan2\.5-i2i-preview: 0 of 6 in flight, 0 queued \(runs 5 at a time, 5 creates\/s, CNY 0\.2 an image\)$/m);
    expect(stdout).toMatch(/^spent today: CNY [\d.]+ \(no limit: MAX_CNY_PER_DAY=0\)$/m);
    expect(stdout).toMatch(/^images today \(\d{4}-\d\d-\d\d, Asia\/Shanghai\): 8 of 500$/m);

    const json = JSON.parse((await run(['status', 'sketches/mine/', '--json', '--dir', dir])).stdout) as { jobs: Array<{ jobKey: string; state: string; ageMs: number }> };
    expect(json.jobs.map((j) => [j.jobKey, j.state])).toEqual([['sketches/mine/kitty', 'SUCCEEDED']]);
    expect(json.jobs[0]!.ageMs).toBeGreaterThan(0);
  }, 30_000);

  it('retry --dir processes a finished sketch again through the running process: a new task, a new manifest', async () => {
    const before = readManifest(dir, 'sketches/mine/kitty')!;
    const { code, stdout } = await run(['retry', 'sketches/mine/kitty.png', '--dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/sketches\/mine\/kitty: a new version/);
    const after = await waitFor('a new manifest', () => {
      const m = readManifest(dir, 'sketches/mine/kitty');
      return m && m.task?.id !== before.task?.id ? m : undefined;
    });
    expect(after.status).toBe('SUCCEEDED');
    expect(after.finishedAt > before.finishedAt).toBe(true);
    // The running process shows the job going round again.
    await cli.waitForOutput(/mine\/kitty\s+SUCCEEDED(?:.|\n)*mine\/kitty\s+QUEUED(?:.|\n)*mine\/kitty\s+SUCCEEDED/);
  }, 30_000);

  it('stops cleanly on Ctrl-C (SIGINT)', async () => {
    expect(fs.existsSync(path.join(dir, '.sketchflow/local.json'))).toBe(true);
    cli.child.kill('SIGINT');
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000))]);
    expect(code).toBe(0);
    expect(cli.stdout).toMatch(/stopping… \(queued 0 · in flight 0 · done 7 · failed 0\)/);
    expect(fs.existsSync(path.join(dir, '.sketchflow/local.json'))).toBe(false);
    // Job state was kept for the next run.
    expect(fs.existsSync(path.join(dir, '.sketchflow/tablestore.json'))).toBe(true);
  }, 15_000);
});
