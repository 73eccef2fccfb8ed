/**
 * Ctrl-C while DashScope is working: `sketchflow local` stops at once (each function at its next
 * step boundary, not after the poller's whole budget), keeps the job state, and the next run on
 * the folder finishes every job — the tasks lost with the simulator are submitted again and
 * counted in `task.attempts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { killAll, readManifest, removeTmpDirs, run, sketchflow, tmpDir } from './helpers.js';

afterAll(() => {
  killAll();
  removeTmpDirs();
});

it('stops promptly with tasks in flight, and the next run finishes them', async () => {
  const dir = path.join(tmpDir(), 'bucket');
  // 20 s tasks: the cloud's own timings (poll every 2 s, a 50 s poller budget).
  const first = sketchflow(['local', '--dir', dir, '--task-seconds', '20']);
  await first.waitForOutput(/\s+\S+\s+RUNNING/);
  first.child.kill('SIGINT');
  const stoppedAt = Date.now();
  const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('still running after 8 s'), 8_000))]);
  expect(code).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(8_000);
  expect(first.stdout).toMatch(/stopping… \(queued \d+ · in flight [12] · done 0 · failed 0\)/);
  expect(first.stderr).toBe('');
  expect(fs.existsSync(path.join(dir, '.sketchflow/local.json'))).toBe(false);

  const again = await run(['local', '--once', '--dir', dir, '--task-seconds', '0.2'], { timeoutMs: 30_000 });
  expect(again.stderr).toBe('');
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/6 sketches in the folder: 6 to process, 0 already have results/);
  const manifests = ['bicycle', 'boat', 'cat', 'house', 'teapot', 'tree'].map((j) => readManifest(dir, `sketches/${j}`)!);
  expect(manifests.map((m) => m.status)).toEqual(Array(6).fill('SUCCEEDED'));
  // The first run had submitted at least one task before it stopped: that one was sent again.
  expect(Math.max(...manifests.map((m) => m.task!.attempts))).toBe(2);
}, 40_000);
