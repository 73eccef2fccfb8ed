/**
 * The pieces of local mode's output, fed directly: journal lines → progress lines and counts
 * (a newer upload supersedes a version; repeats print once; failures go to stderr with the
 * manifest path), the terminal status line, and the gallery for every kind of job.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { galleryEntries, renderGallery } from '../../lib/local/gallery.js';
import { formatAge, Progress } from '../../lib/local/progress.js';
import { isFreshDir, seedExamples } from '../../lib/local/seed.js';
import { EXAMPLES, putFiles, removeTmpDirs, tmpDir } from './helpers.js';

afterAll(() => removeTmpDirs());

const line = (jobKey: string, version: string, state: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ time: 'x', level: state === 'FAILED' ? 'warn' : 'info', msg: 'job state', jobKey, version, state, ...extra });

function progressFor(dir: string, tty = false) {
  let out = '';
  let err = '';
  let now = 1000;
  const p = new Progress({ dir, prefix: 'sketches/', stdout: (t) => (out += t), stderr: (t) => (err += t), tty, now: () => now, summaryEveryMs: 1 });
  return { p, out: () => out, err: () => err, tick: (ms: number) => (now += ms) };
}

describe('progress from the journal', () => {
  it('one line per state change, repeats once, superseded versions do not count', () => {
    const { p, out, tick } = progressFor(tmpDir());
    p.onLogLine(line('sketches/cat', 'v1', 'QUEUED'));
    p.onLogLine(line('sketches/cat', 'v1', 'QUEUED')); // the same state again (a resumed step)
    p.onLogLine('{"msg":"poller done","level":"info"}');
    p.onLogLine('not json at all');
    tick(1500);
    p.onLogLine(line('sketches/cat', 'v1', 'SUBMITTED', { taskId: 'abcdef0123456789' }));
    expect(p.counts()).toEqual({ waiting: 0, queued: 0, inFlight: 1, done: 0, failed: 0 });
    // A new upload: the old version is superseded, the new one starts over.
    p.onLogLine(line('sketches/cat', 'v1', 'SUPERSEDED', { supersededBy: 'v2' }));
    p.onLogLine(line('sketches/cat', 'v2', 'QUEUED'));
    p.onLogLine(line('sketches/cat', 'v1', 'CANCELED')); // late news of the old version: ignored
    p.onLogLine(line('sketches/dog/rex', 'w1', 'AWAITING_PROMPT'));
    expect(p.counts()).toEqual({ waiting: 1, queued: 1, inFlight: 0, done: 0, failed: 0 });
    expect(p.countsLine()).toBe('queued 1 · in flight 0 · done 0 · failed 0 · waiting for a prompt 1');
    expect(out().split('\n').filter(Boolean)).toEqual([
      '   0.0s  cat              QUEUED',
      '   1.5s  cat              SUBMITTED  task abcdef01…',
      '   1.5s  cat              SUPERSEDED by a newer upload',
      '   1.5s  cat              QUEUED',
      '   1.5s  dog/rex          AWAITING_PROMPT no prompt yet: add a .json or .txt sidecar',
    ]);
    p.close();
  });

  it('a failure: its state line, and one stderr line with the error and the manifest path', () => {
    const dir = tmpDir();
    putFiles(dir, {
      'bad.result.json': JSON.stringify({
        status: 'FAILED',
        source: { key: 'sketches/bad.png', etag: 'E' },
        results: [],
        usage: { imageCount: 0 },
        warnings: [],
        error: { code: 'InvalidSidecar', message: 'sketches/bad.json: unknown field "styel"\n(did you mean "style"?)' },
        finishedAt: '2026-01-01T00:00:00.000Z',
        pipelineVersion: '0',
      }),
    });
    const { p, out, err, tick } = progressFor(dir);
    p.onLogLine(line('sketches/bad', 'v1', 'FINALIZING'));
    tick(200);
    p.onLogLine(line('sketches/bad', 'v1', 'FAILED', { error: { code: 'InvalidSidecar', message: 'x' } }));
    expect(out()).toMatch(/^ {3}0\.2s {2}bad {14}FAILED {5}in 0\.2s \(InvalidSidecar\)$/m);
    expect(err()).toBe(`sketches/bad FAILED: InvalidSidecar: sketches/bad.json: unknown field "styel" (did you mean "style"?) (see ${path.join(dir, 'sketches/bad.result.json')})\n`);
    expect(p.counts().failed).toBe(1);
    p.close();
  });

  it('on a terminal: the counts are one status line redrawn in place under the progress lines', () => {
    const { p, out } = progressFor(tmpDir(), true);
    p.onLogLine(line('sketches/a', 'v', 'QUEUED'));
    p.onLogLine(line('sketches/b', 'v', 'QUEUED'));
    expect(out()).toContain('\r\x1b[2Kqueued 2 · in flight 0 · done 0 · failed 0');
    expect(out().endsWith('queued 2 · in flight 0 · done 0 · failed 0')).toBe(true);
    p.close();
    expect(out().endsWith('\r\x1b[2K')).toBe(true); // taken down at the end
  });

  it('non-terminal: a counts summary after changes, not repeated when nothing changed', async () => {
    const { p, out } = progressFor(tmpDir());
    p.onLogLine(line('sketches/a', 'v', 'QUEUED'));
    await new Promise((r) => setTimeout(r, 20));
    p.summary();
    expect(out().match(/^-- queued 1 · in flight 0 · done 0 · failed 0$/gm)).toHaveLength(1);
    p.close();
  });

  it('ages for status', () => {
    expect([5_000, 125_000, 2 * 3600_000 + 600_000, 50 * 3600_000].map(formatAge)).toEqual(['5s', '2m 05s', '2h 10m', '2d 2h']);
  });
});

describe('gallery and seeding', () => {
  it('seeds a fresh folder with the examples, and never a folder in use', () => {
    const dir = path.join(tmpDir(), 'new');
    expect(isFreshDir(dir)).toBe(true);
    const keys = seedExamples(dir, 'sketches/');
    expect(keys).toEqual(fs.readdirSync(EXAMPLES).sort().map((n) => `sketches/${n}`));
    for (const name of fs.readdirSync(EXAMPLES)) expect(fs.statSync(path.join(EXAMPLES, name)).size).toBeLessThan(100 * 1024);
    expect(seedExamples(dir, 'sketches/')).toEqual([]);
  });

  it('shows each sketch with its results, live state, errors, and escapes names', () => {
    const dir = tmpDir();
    const manifest = (status: string, results: unknown[], error?: unknown) =>
      JSON.stringify({ status, source: { key: 'k', etag: 'e' }, request: { model: 'm', prompt: 'a <b>bold</b> cat', parameters: { style: '<anime>', n: 2 }, normalized: false }, results, usage: { imageCount: 1 }, warnings: [], ...(error ? { error } : {}), finishedAt: 'f', pipelineVersion: '0' });
    putFiles(dir, {
      'ok.png': 'png',
      'ok.result-1.png': 'png',
      'ok.result.json': manifest('PARTIAL', [{ index: 1, key: 'sketches/ok.result-1.png', bytes: 3 }, { index: 2, error: { code: 'InternalError', message: 'lost' } }]),
      'sub/a b#1.jpg': 'jpg',
      'queued.webp': 'webp',
    });
    const entries = galleryEntries(dir, 'sketches/', (k) => (k === 'sketches/queued' ? 'RUNNING' : undefined));
    expect(entries.map((e) => [e.jobKey, e.state])).toEqual([
      ['sketches/ok', 'PARTIAL'],
      ['sketches/queued', 'RUNNING'],
      ['sketches/sub/a b#1', 'WAITING'],
    ]);
    const html = renderGallery(dir, 'sketches/', entries);
    expect(html).toContain('src="sketches/sub/a%20b%231.jpg?v=');
    expect(html).toContain('a &lt;b&gt;bold&lt;/b&gt; cat');
    expect(html).toContain('InternalError: lost');
    expect(html).toContain('<meta http-equiv="refresh" content="3">'); // something is still running
  });
});
