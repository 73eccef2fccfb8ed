/**
 * Task lifecycle (issue 4): one RUNNING task per key with a FIFO queue behind it, the service's
 * time formats and metrics, cancel only while PENDING, listing, and expiry on the scaled clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { BEIJING_TIME, body, client, crossSketch, finish, FROZEN, MODEL, startSketchServer, type SketchServer } from './dashscope-helpers.js';

const HOUR = 3600_000;

describe('DashScope simulator: task lifecycle', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/sketches/cat.png', await crossSketch());
    // Time moves only by advance(), so every intermediate state is deterministic; limits raised:
    // this file is about the lifecycle, not throttling.
    sim = await startDashScopeSimulator({ timeScale: FROZEN, seed: 7, submitsPerSecond: 100, queriesPerSecond: 1000 });
  });

  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  it('runs one task at a time per key: the second waits PENDING until the first finishes', async () => {
    const api = client(sim);
    const a = await api.create(body(sketches.url('/sketches/cat.png?x-oss-signature=abc123secret')));
    const b = await api.create(body(sketches.url('/sketches/cat.png')));
    expect(a.status).toBe(200);
    expect(a.body.output).toEqual({ task_id: expect.any(String), task_status: 'PENDING' });
    expect(a.body.request_id).toEqual(expect.any(String));
    const idA = a.body.output.task_id as string;
    const idB = b.body.output.task_id as string;

    await sim.flush();
    expect((await api.query(idA)).body.output.task_status).toBe('RUNNING');
    expect((await api.query(idB)).body.output.task_status).toBe('PENDING');

    // Just before A's end: unchanged. Just after: A done, B running.
    const taskA = sim.task(idA)!;
    sim.advance(taskA.scheduledAt! + taskA.duration - sim.now() - 1);
    expect((await api.query(idA)).body.output.task_status).toBe('RUNNING');
    expect((await api.query(idB)).body.output.task_status).toBe('PENDING');
    sim.advance(2);
    const doneA = await api.query(idA);
    expect(doneA.body.output.task_status).toBe('SUCCEEDED');
    expect((await api.query(idB)).body.output.task_status).toBe('RUNNING');
    const doneB = await finish(sim, api, idB);
    expect(doneB.body.output.task_status).toBe('SUCCEEDED');

    // B started exactly when A ended (logical simulated times), never before.
    const endA = sim.records.historyOf(idA).find((t) => t.to === 'SUCCEEDED')!.at;
    const startB = sim.records.historyOf(idB).find((t) => t.to === 'RUNNING')!.at;
    expect(startB).toBe(endA);
    expect(doneB.body.output.scheduled_time).toBe(doneA.body.output.end_time);

    // The slot's busy intervals never overlap, and at most 2 were in flight.
    const busy = sim.records.busy.filter((x) => x.apiKeyId === sim.apiKeyId);
    for (let i = 1; i < busy.length; i++) expect(busy[i]!.start).toBeGreaterThanOrEqual(busy[i - 1]!.end!);
    expect(sim.records.maxInFlight[sim.apiKeyId]).toBe(2);
  });

  it('answers like the service: times, metrics, results, usage, duration ~20 s ±25 %', async () => {
    const api = client(sim);
    const created = await api.create(body(sketches.url('/sketches/cat.png'), { n: 3, style: '<anime>' }));
    const done = await finish(sim, api, created.body.output.task_id);
    const out = done.body.output;
    expect(out.task_status).toBe('SUCCEEDED');
    expect(out.submit_time).toMatch(BEIJING_TIME);
    expect(out.scheduled_time).toMatch(BEIJING_TIME);
    expect(out.end_time).toMatch(BEIJING_TIME);
    expect(out.results).toHaveLength(3);
    for (const r of out.results) expect(r.url).toMatch(/\/results\/.+\.png\?Expires=\d+&OSSAccessKeyId=.+&Signature=/);
    expect(out.task_metrics).toEqual({ TOTAL: 3, SUCCEEDED: 3, FAILED: 0 });
    expect(done.body.usage).toEqual({ image_count: 3 });
    const t = sim.task(out.task_id)!;
    expect(t.endAt! - t.scheduledAt!).toBeGreaterThanOrEqual(15_000);
    expect(t.endAt! - t.scheduledAt!).toBeLessThanOrEqual(25_000);
    // Beijing time is UTC+8.
    const utc = new Date(t.submitAt).toISOString();
    expect(out.submit_time.slice(11, 13)).toBe(String((Number(utc.slice(11, 13)) + 8) % 24).padStart(2, '0'));
  });

  it('defaults n to 4 when omitted, and bills only successes', async () => {
    const api = client(sim);
    const before = sim.records.imageCount;
    const created = await api.create(body(sketches.url('/sketches/cat.png'), {}));
    const done = await finish(sim, api, created.body.output.task_id);
    expect(done.body.output.results).toHaveLength(4);
    expect(done.body.usage.image_count).toBe(4);
    expect(sim.records.imageCount - before).toBe(4);
  });

  it('cancels only PENDING tasks; otherwise UnsupportedOperation', async () => {
    const api = client(sim);
    const first = await api.create(body(sketches.url('/sketches/cat.png')));
    const second = await api.create(body(sketches.url('/sketches/cat.png')));
    const idFirst = first.body.output.task_id;
    const idSecond = second.body.output.task_id;

    const cancelRunning = await api.cancel(idFirst);
    expect(cancelRunning.status).toBe(400);
    expect(cancelRunning.body).toEqual({ code: 'UnsupportedOperation', message: expect.stringContaining('PENDING'), request_id: expect.any(String) });

    const cancelPending = await api.cancel(idSecond);
    expect(cancelPending.status).toBe(200);
    expect(cancelPending.body.request_id).toEqual(expect.any(String));
    const q = await api.query(idSecond);
    expect(q.body.output.task_status).toBe('CANCELED');
    expect(q.body.output.end_time).toMatch(BEIJING_TIME);

    expect((await api.cancel(idSecond)).body.code).toBe('UnsupportedOperation');
    expect((await api.cancel('no-such-task')).body.code).toBe('UnsupportedOperation');
    await finish(sim, api, idFirst);
    expect((await api.cancel(idFirst)).status).toBe(400);
    // A cancelled task never ran.
    expect(sim.records.busy.some((b) => b.taskId === idSecond)).toBe(false);
  });

  it('lists the key\'s tasks with filters and paging', async () => {
    const api = client(sim);
    const all = await api.list({ page_size: '100' });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ request_id: expect.any(String), total: expect.any(Number), total_page: 1, page_no: 1, page_size: 100 });
    expect(all.body.total).toBeGreaterThanOrEqual(5);
    const item = all.body.data[0];
    // The documented entry: times as epoch ms, and the model's unique key.
    expect(item).toMatchObject({
      task_id: expect.any(String),
      status: expect.any(String),
      model_name: MODEL,
      region: 'cn-beijing',
      gmt_create: expect.any(Number),
      user_api_unique_key: `apikey:v1:aigc:image2image:image-synthesis:${MODEL}`,
    });

    const canceled = await api.list({ status: 'CANCELED' });
    expect(canceled.body.data.length).toBeGreaterThanOrEqual(1);
    expect(canceled.body.data.every((d: { status: string }) => d.status === 'CANCELED')).toBe(true);

    const page2 = await api.list({ page_no: '2', page_size: '2' });
    expect(page2.body.data).toHaveLength(2);
    expect(page2.body.data[0].task_id).toBe(all.body.data[2].task_id);

    // A window in the future (Beijing YYYYMMDDhhmmss) matches nothing.
    const future = await api.list({ start_time: '20990101000000', end_time: '20990101235959' });
    expect(future.body.total).toBe(0);
    expect((await api.list({ start_time: 'yesterday' })).body.code).toBe('InvalidParameter');

    expect((await api.list({ model_name: 'wanx-v1' })).body.total).toBe(0);
  });

  it("a key never sees another key's tasks", async () => {
    const other = await startDashScopeSimulator({ apiKeys: ['sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'sk-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'], timeScale: FROZEN });
    try {
      const a = client(other, other.apiKeys[0]);
      const b = client(other, other.apiKeys[1]);
      const created = await a.create(body(sketches.url('/sketches/cat.png')));
      // Separate accounts: b's first task runs at once even though a's is running.
      const createdB = await b.create(body(sketches.url('/sketches/cat.png')));
      expect((await b.query(createdB.body.output.task_id)).body.output.task_status).toBe('RUNNING');
      expect((await b.query(created.body.output.task_id)).body.output.task_status).toBe('UNKNOWN');
      expect((await b.list()).body.total).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('expires result URLs and task data on the scaled clock (advance)', async () => {
    const api = client(sim);
    const created = await api.create(body(sketches.url('/sketches/cat.png')));
    const id = created.body.output.task_id;
    const done = await finish(sim, api, id);
    const url = done.body.output.results[0].url as string;
    expect((await fetch(url)).status).toBe(200);

    sim.advance(23 * HOUR);
    expect((await api.query(id)).body.output.task_status).toBe('SUCCEEDED');
    expect((await fetch(url)).status).toBe(200);

    sim.advance(1 * HOUR + 1000);
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    const xml = await expired.text();
    expect(xml).toContain('<Code>AccessDenied</Code>');
    expect(xml).toContain('<Message>Request has expired.</Message>');
    const gone = await api.query(id);
    expect(gone.status).toBe(200);
    expect(gone.body.output).toEqual({ task_id: id, task_status: 'UNKNOWN' });
  });

  it('advance() completes a queue at once, with logical back-to-back times', async () => {
    const slow = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 100, queriesPerSecond: 1000 });
    try {
      const api = client(slow);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await api.create(body(sketches.url('/sketches/cat.png')))).body.output.task_id);
      await slow.flush(); // the first sketch fetched
      slow.advance(2 * HOUR);
      for (const id of ids) expect((await api.query(id)).body.output.task_status).toBe('SUCCEEDED');
      const busy = slow.records.busy;
      expect(busy.map((b) => b.taskId)).toEqual(ids);
      expect(busy[1]!.start).toBe(busy[0]!.end);
      expect(busy[2]!.start).toBe(busy[1]!.end);
    } finally {
      await slow.close();
    }
  });

  it('a task still PENDING 3 h after submission fails InternalError.Timeout', async () => {
    const stuck = await startDashScopeSimulator({ timeScale: FROZEN, taskSeconds: 4 * 3600, jitter: 0, submitsPerSecond: 100, queriesPerSecond: 1000 });
    try {
      const api = client(stuck);
      const first = (await api.create(body(sketches.url('/sketches/cat.png')))).body.output.task_id;
      const second = (await api.create(body(sketches.url('/sketches/cat.png')))).body.output.task_id;
      await stuck.flush();
      stuck.advance(3 * HOUR + 1);
      const q = await api.query(second);
      expect(q.body.output).toMatchObject({ task_status: 'FAILED', code: 'InternalError.Timeout' });
      expect((await api.query(first)).body.output.task_status).toBe('RUNNING');
    } finally {
      await stuck.close();
    }
  });

  it('on a scaled clock, tasks complete by themselves (timeScale 0.005: 20 s in ~100 ms)', async () => {
    const scaled = await startDashScopeSimulator({ timeScale: 0.005, submitsPerSecond: 100, queriesPerSecond: 1000 });
    try {
      const api = client(scaled);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await api.create(body(sketches.url('/sketches/cat.png')))).body.output.task_id);
      const t0 = Date.now();
      for (const id of ids) expect((await api.wait(id, 10_000)).body.output.task_status).toBe('SUCCEEDED');
      // ~60 simulated seconds of work; far less than that in real time.
      expect(Date.now() - t0).toBeLessThan(10_000);
      const busy = scaled.records.busy;
      expect(busy.map((b) => b.taskId)).toEqual(ids);
      for (let i = 1; i < busy.length; i++) expect(busy[i]!.start).toBe(busy[i - 1]!.end);
      expect(busy.at(-1)!.end! - busy[0]!.start).toBeGreaterThan(3 * 15_000 - 1);
    } finally {
      await scaled.close();
    }
  });

  it('records creates with the sketch signature redacted, grouped by path', () => {
    const subs = sim.records.submissionsFor('/sketches/cat.png');
    expect(subs.length).toBeGreaterThanOrEqual(5);
    const signed = sim.records.creates.find((c) => JSON.stringify(c.body).includes('x-oss-signature'))!;
    expect(JSON.stringify(signed.body)).not.toContain('abc123secret');
    expect(JSON.stringify(sim.records)).not.toContain(sim.apiKey);
    expect(signed.apiKeyId).toBe(sim.apiKeyId);
    expect(sim.records.submissionsFor('sketches/cat.png')).toHaveLength(subs.length);
  });
});
