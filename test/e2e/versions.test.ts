/**
 * SPEC §1 and §4 invariants 2 and 5: the same upload delivered again is one task; a new upload is
 * a new version whose outputs replace the old ones; an older version still in flight is canceled
 * or discarded and never overwrites the newer outputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ossEvent } from '../helpers/events.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;

beforeAll(async () => {
  // 1 s tasks, so a newer version can arrive while an older one runs.
  p = await startTestPipeline({ timeScale: 0.05 });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

/** The OSS event FC delivers for the stored `key` (built as the emulator builds it), to redeliver it. */
function eventFor(key: string): Buffer {
  const stored = p.stack.oss.peek(key)!;
  return ossEvent(p.stack.oss.bucket, key, { size: stored.body.length, eTag: stored.etag.replace(/"/g, '') });
}

describe('duplicates', () => {
  it('the same event delivered 3 times, and replayed after the job finished: one task', async () => {
    await p.put('sketches/dup/a.json', JSON.stringify({ prompt: 'a tower' }));
    await p.put('sketches/dup/a.png', sketch);
    const event = eventFor('sketches/dup/a.png');
    await Promise.all([1, 2, 3].map(() => p.fc.invoke(SUBMIT_FUNCTION, event)));
    const m = await p.waitForManifest('sketches/dup/a');
    expect(m.status).toBe('SUCCEEDED');
    const finishedAt = m.finishedAt;
    await p.fc.invoke(SUBMIT_FUNCTION, event);
    await p.fc.invoke(SUBMIT_FUNCTION, eventFor('sketches/dup/a.json'));
    await p.idle();
    expect(p.submissions('sketches/dup/a.png')).toBe(1);
    expect(m.task?.attempts).toBe(1);
    expect(p.manifest('sketches/dup/a')!.finishedAt).toBe(finishedAt);
  });
});

describe('new versions', () => {
  it('re-uploading the sketch and then editing the sidecar: processed again, outputs replaced', async () => {
    await p.put('sketches/ver/b.json', JSON.stringify({ prompt: 'version one', n: 2 }));
    await p.put('sketches/ver/b.png', sketch);
    const first = await p.waitForManifest('sketches/ver/b');
    expect(first.results).toHaveLength(2);

    await p.put('sketches/ver/b.png', await lineSketch(640));
    const second = await p.waitFor('a second manifest', () => {
      const m = p.manifest('sketches/ver/b');
      return m && m.source.etag !== first.source.etag ? m : undefined;
    });
    expect(second.status).toBe('SUCCEEDED');

    await p.put('sketches/ver/b.json', JSON.stringify({ prompt: 'version three', n: 1 }));
    const third = await p.waitFor('a third manifest', () => {
      const m = p.manifest('sketches/ver/b');
      return m && m.source.sidecar?.etag !== second.source.sidecar?.etag ? m : undefined;
    });
    expect(third.request?.prompt).toBe('version three');
    expect(third.results.map((r) => r.key)).toEqual(['sketches/ver/b.result-1.png']);
    // n went from 2 to 1: the older version's second image is gone.
    expect(p.stack.oss.peek('sketches/ver/b.result-2.png')).toBeUndefined();
    expect(p.submissions('sketches/ver/b.png')).toBe(3);
  });

  it('a version still RUNNING when a newer one arrives: its results are discarded, the newer ones win', async () => {
    await p.put('sketches/ver/c.json', JSON.stringify({ prompt: 'old' }));
    await p.put('sketches/ver/c.png', sketch);
    const firstTask = await p.waitFor('the first task to run', () => {
      const c = p.stack.dashscope.records.submissionsFor('/sketches/ver/c.png')[0];
      return c?.taskId && p.stack.dashscope.task(c.taskId)?.status === 'RUNNING' ? c.taskId : undefined;
    });
    await p.put('sketches/ver/c.json', JSON.stringify({ prompt: 'new' }));
    const m = await p.waitFor('the newer manifest', () => {
      const man = p.manifest('sketches/ver/c');
      return man?.request?.prompt === 'new' ? man : undefined;
    });
    expect(m.status).toBe('SUCCEEDED');
    expect(m.task?.id).not.toBe(firstTask);
    // The old task ran to its end (it could not be canceled) and nothing of it was written.
    await p.waitFor('the old task to end', () => p.stack.dashscope.task(firstTask)?.status === 'SUCCEEDED');
    await p.idle();
    const resultPuts = p.stack.oss.records.filter((r) => r.action === 'oss:PutObject' && r.key?.startsWith('sketches/ver/c.result'));
    expect(resultPuts.map((r) => r.key)).toEqual(['sketches/ver/c.result-1.png', 'sketches/ver/c.result.json']);
    expect(p.manifest('sketches/ver/c')!.request?.prompt).toBe('new');
  });

});

describe('a newer version while the older one waits PENDING', () => {
  let frozen: TestPipeline;
  beforeAll(async () => {
    // DashScope's clock is frozen: a task runs until the test moves time, however busy the machine.
    frozen = await startTestPipeline({ timeScale: 1e6 });
  });
  afterAll(async () => {
    await frozen?.close();
  });

  it('the older version, still PENDING at DashScope, is canceled', async () => {
    const ds = frozen.stack.dashscope;
    const taskOf = (key: string) => ds.records.submissionsFor(`/${key}`)[0]?.taskId;
    // Keep DashScope's one slot busy so the next task waits PENDING.
    await frozen.put('sketches/ver/busy.json', JSON.stringify({ prompt: 'busy' }));
    await frozen.put('sketches/ver/busy.png', sketch);
    await frozen.waitFor('busy running', () => {
      const id = taskOf('sketches/ver/busy.png');
      return id && ds.task(id)?.status === 'RUNNING';
    });
    await frozen.put('sketches/ver/d.json', JSON.stringify({ prompt: 'pending one' }));
    await frozen.put('sketches/ver/d.png', sketch);
    const pendingTask = await frozen.waitFor('d pending', () => {
      const id = taskOf('sketches/ver/d.png');
      return id && ds.task(id)?.status === 'PENDING' ? id : undefined;
    });
    await frozen.put('sketches/ver/d.json', JSON.stringify({ prompt: 'pending two' }));
    await frozen.waitFor('the older task canceled', () => ds.task(pendingTask)?.status === 'CANCELED');
    // Let DashScope run the rest: the busy task, then the newer version's.
    const m = await frozen.waitFor('the newer manifest', () => {
      ds.advance(30_000);
      const man = frozen.manifest('sketches/ver/d');
      return man?.request?.prompt === 'pending two' ? man : undefined;
    }, 30_000);
    expect(m.status).toBe('SUCCEEDED');
    expect(ds.records.cancels.filter((c) => c.taskId === pendingTask && c.status === 200)).toHaveLength(1);
    await frozen.waitForManifest('sketches/ver/busy');
  });
});
