/**
 * Issue 13 run 8: no upload is dropped. An event whose fields drifted (ones the pipeline never
 * reads) is still handled; and an upload whose every delivery failed (Tablestore down for longer
 * than FC's 3 async retries, so FC gave the event up) shows in `status` and is recorded by the
 * poller's catch-up listing once the table is back, with no event ever arriving again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStoreError } from '../../lib/errors.js';
import type { RowStore } from '../../lib/core/ports.js';
import { pipelineStatus } from '../../lib/core/operations.js';
import { createRuntime } from '../../lib/runtime.js';
import { SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;
let tablestoreDown = false;
const dropped: Array<{ fn: string; event: string }> = [];

/** Every row call fails while `tablestoreDown`, as a Tablestore outage answers (503). */
function outage(rows: RowStore): RowStore {
  const down = () => {
    if (tablestoreDown) throw new JobStoreError('OTSServerUnavailable', 'The server is unavailable now.', 503);
  };
  return {
    get: async (kind, id) => (down(), rows.get(kind, id)),
    getMany: async (kind, ids) => (down(), rows.getMany(kind, ids)),
    put: async (kind, id, value, expect) => (down(), rows.put(kind, id, value, expect)),
    delete: async (kind, id, expect) => (down(), rows.delete(kind, id, expect)),
    scan: async (kind, options) => (down(), rows.scan(kind, options)),
  };
}

beforeAll(async () => {
  p = await startTestPipeline({
    timeScale: 0.02,
    decorate: { rows: outage },
    onDropped: (fn, event) => dropped.push({ fn, event: event.toString('utf8') }),
  });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

describe('events', () => {
  it('a record whose unused fields drifted is still handled', async () => {
    await p.put('sketches/lost/drift.json', JSON.stringify({ prompt: 'drift' }));
    const stored = p.stack.oss.peek('sketches/lost/drift.json')!;
    expect(stored).toBeDefined();
    await p.put('sketches/lost/drift.png', sketch);
    await p.waitForManifest('sketches/lost/drift');
    // The same upload, described by an event missing everything but the bucket and the key.
    const minimal = { events: [{ eventName: 'ObjectCreated:PutObject', oss: { bucket: { name: p.stack.oss.bucket }, object: { key: 'sketches/lost/drift.png' } } }] };
    const result = (await p.fc.invoke(SUBMIT_FUNCTION, Buffer.from(JSON.stringify(minimal)))) as { outcomes: Array<{ action: string }> };
    expect(result.outcomes.map((o) => o.action)).toEqual(['duplicate']);
  });

  it('an upload whose every delivery failed: shown in status, then recorded by the catch-up listing', async () => {
    const before = dropped.length;
    await p.put('sketches/lost/late.json', JSON.stringify({ prompt: 'late' }));
    await p.idle();
    tablestoreDown = true;
    await p.put('sketches/lost/late.png', sketch);
    await p.waitFor('FC to give the event up', () => dropped.slice(before).some((d) => d.event.includes('sketches/lost/late.png')));
    tablestoreDown = false;

    // The table is back; no event for the sketch will ever come again. `status` shows it meanwhile
    // (unless the timer's poller already caught up).
    const d = p.stack.describe();
    const deps = createRuntime({ env: p.env, logSink: () => {} }).depsFor({ credentials: { accessKeyId: d.oss.accessKeyId, accessKeySecret: d.oss.accessKeySecret } }, 'poller');
    const status = await pipelineStatus(deps, 'sketches/lost/');
    if (!p.manifest('sketches/lost/late') && !status.jobs.some((j) => j.jobKey === 'sketches/lost/late')) expect(status.unrecorded).toContain('sketches/lost/late');

    const m = await p.waitForManifest('sketches/lost/late', 30_000);
    expect(m.status).toBe('SUCCEEDED');
    expect(p.submissions('sketches/lost/late.png')).toBe(1);
    expect(p.logRecords().some((r) => r.msg === 'upload recorded by the catch-up listing: no event for it was handled' && r.jobKey === 'sketches/lost/late')).toBe(true);
  });
});
