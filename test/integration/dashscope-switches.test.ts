/**
 * Switches for unconfirmed behaviour (switches.ts): the task list's paging, total, window and
 * order; the cancel reply; the text2image path. Each value is exercised by plain HTTP, set at start
 * or at run time (typed method and /__admin/faults).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { BEIJING_TIME, body, client, crossSketch, FROZEN, MODEL, startSketchServer, type SketchServer } from './dashscope-helpers.js';

/** `YYYYMMDDhhmmss` Beijing time, as the list API takes. */
const compact = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);

describe('DashScope simulator: switches for unconfirmed behaviour', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let url: string;
  let ids: string[];

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    url = sketches.url('/s.png');
    sim = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 1000, queriesPerSecond: 1000 });
    const api = client(sim);
    ids = [];
    // Five tasks, 1 s apart: the first RUNNING, the rest PENDING behind it.
    for (let i = 0; i < 5; i++) {
      ids.push((await api.create(body(url))).body.output.task_id);
      sim.advance(1000);
    }
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  const listIds = async (params: Record<string, string> = {}) => {
    const res = await client(sim).list(params);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body.data as Array<{ task_id: string }>).map((d) => d.task_id);
  };

  it('defaults: newest first, 1-based pages, total and total_page, epoch-ms times, page size cap 100 (error above)', async () => {
    expect(sim.switches()).toMatchObject({ listOrder: 'newest-first', listPaging: 'one-based', listTotal: 'present', listTimes: 'epoch-ms', listPageSizeMax: 100 });
    expect(await listIds()).toEqual([...ids].reverse());
    const page = await client(sim).list({ page_no: '2', page_size: '2' });
    expect(page.body).toMatchObject({ total: 5, total_page: 3, page_no: 2, page_size: 2 });
    expect(page.body.data.map((d: { task_id: string }) => d.task_id)).toEqual([ids[2], ids[1]]);
    expect(page.body.data[0].gmt_create).toBe(sim.task(ids[2]!)!.submitAt);
    const over = await client(sim).list({ page_size: '101' });
    expect(over.status).toBe(400);
    expect(over.body.code).toBe('InvalidParameter');
    expect(over.body.message).toContain('page_size');
  });

  it('page size cap: error or clamp', async () => {
    sim.setSwitches({ listPageSizeMax: 2, listPageSizeOver: 'clamp' });
    const res = await client(sim).list({ page_size: '50' });
    expect(res.body).toMatchObject({ page_size: 2, total: 5, total_page: 3 });
    expect(res.body.data).toHaveLength(2);
    sim.setSwitches({ listPageSizeOver: 'error' });
    expect((await client(sim).list({ page_size: '3' })).status).toBe(400);
  });

  it('0-based paging, total absent, oldest first, Beijing time strings', async () => {
    sim.setSwitches({ listPaging: 'zero-based', listTotal: 'absent', listOrder: 'oldest-first', listTimes: 'beijing' });
    const first = await client(sim).list({ page_no: '0', page_size: '2' });
    expect(first.body.data.map((d: { task_id: string }) => d.task_id)).toEqual([ids[0], ids[1]]);
    expect(first.body).not.toHaveProperty('total');
    expect(first.body).not.toHaveProperty('total_page');
    expect(first.body.data[0].gmt_create).toMatch(BEIJING_TIME);
    expect(first.body.data[0].start_time).toMatch(BEIJING_TIME);
    expect(await listIds({ page_no: '1', page_size: '2' })).toEqual([ids[2], ids[3]]);
  });

  it('the window filters submission, start or end time; a window limit refuses a wider one', async () => {
    const from = compact(sim.task(ids[0]!)!.submitAt);
    const to = compact(sim.now());
    expect(await listIds({ start_time: from, end_time: to })).toHaveLength(5);
    // Only the first task has started; none has ended.
    sim.setSwitches({ listWindowField: 'start' });
    expect(await listIds({ start_time: from, end_time: to })).toEqual([ids[0]]);
    sim.setSwitches({ listWindowField: 'end' });
    expect(await listIds({ start_time: from, end_time: to })).toEqual([]);

    sim.setSwitches({ listWindowField: 'submit', listWindowMaxHours: 24 });
    const now = sim.now();
    const wide = await client(sim).list({ start_time: compact(now - 24 * 3600_000), end_time: compact(now + 24 * 3600_000) });
    expect(wide.status).toBe(400);
    expect(wide.body.code).toBe('InvalidParameter');
    expect(await listIds({ start_time: compact(now - 23 * 3600_000), end_time: compact(now + 3600_000) })).toHaveLength(5);
    // No bounds: the last 24 hours.
    expect(await listIds()).toHaveLength(5);
  });

  it('cancel: the success shape, and what a non-PENDING or unknown id answers', async () => {
    const api = client(sim);
    const running = ids[0]!;
    // Default: {request_id}; 400 UnsupportedOperation for RUNNING and for unknown ids.
    expect((await api.cancel(running)).body).toMatchObject({ code: 'UnsupportedOperation' });
    expect((await api.cancel('no-such-task')).body).toMatchObject({ code: 'UnsupportedOperation' });

    sim.setSwitches({ cancelReply: 'with-output', cancelNotPending: 'invalid-parameter', cancelUnknown: 'not-found' });
    const ok = await api.cancel(ids[4]!);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ request_id: expect.any(String), output: { task_id: ids[4], task_status: 'CANCELED' } });
    expect((await api.cancel(running)).body).toMatchObject({ code: 'InvalidParameter' });
    const unknown = await api.cancel('no-such-task');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NotFound');

    sim.setSwitches({ cancelNotPending: 'ok-noop', cancelUnknown: 'unknown-ok' });
    expect((await api.cancel(running)).status).toBe(200);
    expect(sim.task(running)!.status).toBe('RUNNING'); // a no-op: it goes on
    expect((await api.cancel('no-such-task')).body).toEqual({ request_id: expect.any(String), output: { task_id: 'no-such-task', task_status: 'UNKNOWN' } });
  });

  it('the text2image path: url error (default), model not exist, 404, or accepted', async () => {
    const api = client(sim);
    const t2i = (b: unknown) =>
      api.raw('/services/aigc/text2image/image-synthesis', {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json', 'x-dashscope-async': 'enable' },
        body: JSON.stringify(b),
      });
    const made = () => sim.records.creates.filter((c) => c.taskId !== undefined).length;
    const before = made();
    const urlError = await t2i(body(url));
    expect(urlError.status).toBe(400);
    expect(urlError.body).toMatchObject({ code: 'InvalidParameter', message: expect.stringContaining('url error') });
    expect(sim.records.creates.at(-1)).toMatchObject({ path: 'text2image', status: 400 });

    for (const [value, status, code] of [['model-not-exist', 400, 'InvalidParameter'], ['not-found', 404, 'NotFound']] as const) {
      // Out of process, the same switch goes through /__admin/faults.
      await fetch(`${sim.origin}/__admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'switches', set: { text2image: value } }) });
      const res = await t2i(body(url));
      expect(res.status, value).toBe(status);
      expect(res.body.code).toBe(code);
    }
    expect(made()).toBe(before);

    sim.setSwitches({ text2image: 'accept' });
    const accepted = await t2i(body(url));
    expect(accepted.status).toBe(200);
    expect(sim.task(accepted.body.output.task_id)!.request.model).toBe(MODEL);
    sim.clearFaults();
    expect(sim.switches().text2image).toBe('url-error');
  });

  it('switches given at start are the values clearFaults() returns to', async () => {
    const other = await startDashScopeSimulator({ timeScale: FROZEN, unconfirmed: { listOrder: 'oldest-first', cancelReply: 'with-output' } });
    try {
      expect(other.switches()).toMatchObject({ listOrder: 'oldest-first', cancelReply: 'with-output' });
      other.setSwitches({ listOrder: 'newest-first' });
      other.clearFaults();
      expect(other.switches().listOrder).toBe('oldest-first');
    } finally {
      await other.close();
    }
  });
});
