/**
 * SPEC §7 exit codes of `sketchflow local --once`: 1 when any job failed (each failure one
 * readable line on stderr with its manifest path), 2 on a usage or configuration error — checked
 * before the bucket folder is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES, killAll, putFiles, readManifest, removeTmpDirs, run, runMain, tmpDir } from './helpers.js';

afterAll(() => {
  killAll();
  removeTmpDirs();
});

describe('sketchflow local --once: exit codes', () => {
  it('exits 1 when an example is broken; each failure is one stderr line with the manifest path', async () => {
    const dir = tmpDir();
    for (const name of fs.readdirSync(EXAMPLES)) putFiles(dir, { [name]: { example: name } });
    putFiles(dir, {
      'broken.png': { example: 'cat.png' },
      'broken.json': JSON.stringify({ prompt: 'a cat', styel: 'anime', n: 7 }),
      // No prompt anywhere (the folder's _defaults.json has only a style): MissingPrompt after the grace.
      'silent.png': { example: 'tree.png' },
    });
    const { code, stdout, stderr } = await run(['local', '--once', '--dir', dir, '--task-seconds', '0.2'], { timeoutMs: 30_000 });
    expect(code).toBe(1);
    const errors = stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^sketches\/broken FAILED: InvalidSidecar: .*styel.* \(see \S*sketches\/broken\.result\.json\)$/);
    expect(errors[1]).toMatch(/^sketches\/silent FAILED: MissingPrompt: .* \(see \S*sketches\/silent\.result\.json\)$/);
    expect(readManifest(dir, 'sketches/broken')?.error?.code).toBe('InvalidSidecar');
    expect(readManifest(dir, 'sketches/cat')?.status).toBe('SUCCEEDED');
    expect(stdout).toMatch(/silent\s+AWAITING_PROMPT\s+no prompt yet/);
    expect(stdout).toMatch(/^8 jobs in \d+\.\ds: 6 succeeded, 2 failed$/m);
    expect(stdout).toMatch(/^\s+broken\s+FAILED: InvalidSidecar: /m);
  }, 35_000);

  it('exits 1, without waiting forever, when a job cannot move (the daily budget), saying why', async () => {
    const dir = tmpDir();
    putFiles(dir, { 'cat.png': { example: 'cat.png' }, 'cat.json': { example: 'cat.json' }, 'tree.png': { example: 'tree.png' }, 'tree.txt': { example: 'tree.txt' } });
    const { code, stdout, stderr } = await run(['local', '--once', '--dir', dir, '--task-seconds', '0.2'], { env: { MAX_IMAGES_PER_DAY: '1' }, timeoutMs: 20_000 });
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(readManifest(dir, 'sketches/cat')?.status).toBe('SUCCEEDED');
    expect(readManifest(dir, 'sketches/tree')).toBeUndefined();
    expect(stdout).toMatch(/^\s+tree\s+QUEUED\s+waiting: the daily image budget \(MAX_IMAGES_PER_DAY=1\) is used up for \d{4}-\d\d-\d\d; it resumes after midnight Asia\/Shanghai$/m);
    expect(stdout).toMatch(/^2 jobs in \d+\.\ds: 1 succeeded, 0 failed, 1 not finished$/m);
  }, 25_000);

  it('exits 2 on a bad option, without touching the folder', async () => {
    const dir = path.join(tmpDir(), 'never');
    const { code, stdout, stderr } = await run(['local', '--once', '--dir', dir, '--fast']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sketchflow: Unknown option '--fast'/)]);
    expect(fs.existsSync(dir)).toBe(false);
  }, 20_000);

  it('exits 2 on a bad setting in the environment, naming it', async () => {
    const dir = path.join(tmpDir(), 'never');
    const { code, stderr } = await run(['local', '--once', '--dir', dir], { env: { MAX_IN_FLIGHT: 'abc', FIT: 'stretch' } });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sketchflow: invalid configuration: .*FIT must be 'pad', 'crop' or 'reject' \(got "stretch"\); MAX_IN_FLIGHT must be an integer 1–16 \(got "abc"\)$/)]);
    expect(fs.existsSync(dir)).toBe(false);
  }, 20_000);

  it.each([
    [['local', '--dashscope', 'maybe'], {}, /--dashscope must be 'sim' or 'real'/],
    [['local', '--task-seconds', 'soon'], {}, /--task-seconds must be a number/],
    [['local', '--task-seconds', '0'], {}, /--task-seconds must be a number/],
    [['local', '--dashscope', 'real'], {}, /--dashscope real needs a Model Studio API key in DASHSCOPE_API_KEY/],
    [['local', '--dashscope', 'real', '--task-seconds', '2'], { DASHSCOPE_API_KEY: 'sk-x' }, /--task-seconds is for the simulator/],
    [['local', 'now'], {}, /unexpected argument 'now'/],
    [['local', '--dir', ''], {}, /--dir needs a folder/],
  ] as Array<[string[], Record<string, string>, RegExp]>)('%j exits 2 with one line', async (argv, env, message) => {
    const { code, stdout, stderr } = await runMain(argv, env);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^sketchflow: .*${message.source}.*\\n$`));
  });
});
