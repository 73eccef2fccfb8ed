/**
 * SPEC §1–§2: however a sketch and its prompt arrive, the job ends in exactly one DashScope task
 * carrying the resolved request. Real handlers, real SDKs, loopback stand-ins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;

beforeAll(async () => {
  p = await startTestPipeline();
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

function createdBody(sketchKey: string): { input: { prompt: string; sketch_image_url: string }; parameters: Record<string, unknown> } {
  const creates = p.stack.dashscope.records.submissionsFor(`/${sketchKey}`);
  expect(creates).toHaveLength(1);
  return creates[0]!.body as never;
}

describe('arrival orders', () => {
  it('sketch then sidecar: waits for the prompt, then one task', async () => {
    await p.put('sketches/order/a.png', sketch);
    await p.waitFor('AWAITING_PROMPT', () => p.states('sketches/order/a').some((r) => r.state === 'AWAITING_PROMPT'));
    await p.put('sketches/order/a.json', JSON.stringify({ prompt: 'a house', style: 'anime' }));
    const m = await p.waitForManifest('sketches/order/a');
    expect(m.status).toBe('SUCCEEDED');
    expect(createdBody('sketches/order/a.png')).toMatchObject({ input: { prompt: 'a house' }, parameters: { style: '<anime>', n: 1, size: '768*768' } });
    expect(m.source.sidecar?.key).toBe('sketches/order/a.json');
  });

  it('sidecar then sketch: one task', async () => {
    await p.put('sketches/order/b.json', JSON.stringify({ prompt: 'a barn', n: 2 }));
    await p.put('sketches/order/b.png', sketch);
    const m = await p.waitForManifest('sketches/order/b');
    expect(m.status).toBe('SUCCEEDED');
    expect(m.results.map((r) => r.key)).toEqual(['sketches/order/b.result-1.png', 'sketches/order/b.result-2.png']);
    expect(createdBody('sketches/order/b.png').parameters).toMatchObject({ n: 2, style: '<auto>' });
  });

  it('logs one JSON line per state change, with job key, version, state and task id', async () => {
    // The manifest is written just before the terminal state is recorded and logged.
    await p.waitFor('the SUCCEEDED line', () => p.states('sketches/order/b').some((r) => r.state === 'SUCCEEDED'));
    const states = p
      .states('sketches/order/b')
      .map((r) => ({ state: r.state, hasVersion: typeof r.version === 'string', hasTask: typeof r.taskId === 'string' }));
    // Each change once, in order; RUNNING only if a poll happened to see it (the simulator is fast).
    const sequence = states.map((s) => s.state);
    expect(sequence.filter((s) => s !== 'RUNNING')).toEqual(['QUEUED', 'SUBMITTING', 'SUBMITTED', 'FINALIZING', 'SUCCEEDED']);
    expect(sequence.filter((s) => s === 'RUNNING').length).toBeLessThanOrEqual(1);
    if (sequence.includes('RUNNING')) expect(sequence.indexOf('RUNNING')).toBe(3);
    const waited = p
      .states('sketches/order/a')
      .map((r) => r.state)
      .filter((s) => s !== 'RUNNING');
    // The sidecar makes a new version (SPEC §1: a version is the sketch's and the sidecar's ETags).
    expect(waited).toEqual(['AWAITING_PROMPT', 'SUPERSEDED', 'QUEUED', 'SUBMITTING', 'SUBMITTED', 'FINALIZING', 'SUCCEEDED']);
    expect(states.every((s) => s.hasVersion)).toBe(true);
    expect(states.filter((s) => ['SUBMITTED', 'FINALIZING', 'SUCCEEDED'].includes(s.state as string)).every((s) => s.hasTask)).toBe(true);
  });

  it('both at once: one task', async () => {
    await Promise.all([p.put('sketches/order/c.json', JSON.stringify({ prompt: 'a mill' })), p.put('sketches/order/c.png', sketch)]);
    const m = await p.waitForManifest('sketches/order/c');
    expect(m.status).toBe('SUCCEEDED');
    expect(createdBody('sketches/order/c.png').input.prompt).toBe('a mill');
  });

  it('a .txt sidecar is the whole prompt', async () => {
    await p.put('sketches/order/d.txt', '  a lighthouse at dusk \n');
    await p.put('sketches/order/d.jpg', await lineSketch(512, 512, 'jpeg'));
    await p.waitForManifest('sketches/order/d');
    expect(createdBody('sketches/order/d.jpg').input.prompt).toBe('a lighthouse at dusk');
  });

  it('a prompt in the sketch metadata (percent-encoded UTF-8)', async () => {
    await p.put('sketches/order/e.png', sketch, { prompt: encodeURIComponent('一座小房子'), style: 'watercolor' });
    await p.waitForManifest('sketches/order/e');
    expect(createdBody('sketches/order/e.png')).toMatchObject({ input: { prompt: '一座小房子' }, parameters: { style: '<watercolor>' } });
  });

  it('folder _defaults.json supplies fields, nearest wins, sidecar beats both', async () => {
    await p.put('sketches/defaults/_defaults.json', JSON.stringify({ prompt: 'outer prompt', style: 'oil painting', sketch_weight: 3 }));
    await p.put('sketches/defaults/inner/_defaults.json', JSON.stringify({ style: 'sketch' }));
    await p.put('sketches/defaults/inner/f.json', JSON.stringify({ n: 2 }));
    await p.put('sketches/defaults/inner/f.png', sketch);
    await p.waitForManifest('sketches/defaults/inner/f');
    expect(createdBody('sketches/defaults/inner/f.png')).toMatchObject({
      input: { prompt: 'outer prompt' },
      parameters: { style: '<sketch>', n: 2, sketch_weight: 3 },
    });
  });

  it('a _defaults.json arriving later releases only jobs still waiting for a prompt', async () => {
    await p.put('sketches/late/g.png', sketch);
    await p.waitFor('AWAITING_PROMPT', () => p.states('sketches/late/g').some((r) => r.state === 'AWAITING_PROMPT'));
    await p.put('sketches/late/_defaults.json', JSON.stringify({ prompt: 'from the folder' }));
    const m = await p.waitForManifest('sketches/late/g');
    expect(m.request?.prompt).toBe('from the folder');
    // Uploading another _defaults.json does not bill the finished job again.
    await p.put('sketches/late/_defaults.json', JSON.stringify({ prompt: 'changed' }));
    await p.idle();
    expect(p.submissions('sketches/late/g.png')).toBe(1);
  });
});
