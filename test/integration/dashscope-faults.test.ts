/**
 * Fault injection (issue 4): every injected fault looks like the real service's failure — flat
 * `{code, message, request_id}` errors with the right status, FAILED tasks with a code, partial
 * results, lost tasks answering UNKNOWN, connections that hang or reset — through the typed
 * methods and through `POST /__admin/faults`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body, client, crossSketch, finish, FROZEN, MODEL, startSketchServer, type SketchServer } from './dashscope-helpers.js';

describe('DashScope simulator: injected faults', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let url: string;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    url = sketches.url('/s.png');
    // Time moves only by advance() (see finish()), so task states never race the test.
    sim = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  });

  afterEach(() => sim.clearFaults());

  const postAdmin = (path: string, payload: unknown) =>
    fetch(`${sim.origin}/__admin/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  /** A task query by plain fetch, as any client sends it. */
  const queryTask = (taskId: string, init: { apiKey?: string; signal?: AbortSignal } = {}) =>
    fetch(`${sim.baseUrl}/tasks/${taskId}`, { headers: { authorization: `Bearer ${init.apiKey ?? sim.apiKey}` }, signal: init.signal });

  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  it('fails the next N creates with the catalogue status and message; no task is made', async () => {
    const api = client(sim);
    const cases: Array<[string, number, string]> = [
      ['Throttling.RateQuota', 429, 'Requests rate limit exceeded, please try again later.'],
      ['InternalError', 500, 'An internal error has occured, please try again later or contact service support.'],
      ['ModelUnavailable', 503, 'Model is unavailable, please try again later.'],
      ['Arrearage', 400, 'Access denied, please make sure your account is in good standing.'],
    ];
    for (const [code, status, message] of cases) {
      const tasksBefore = sim.records.creates.filter((c) => c.taskId).length;
      sim.failNextCreates(2, code);
      for (let i = 0; i < 2; i++) {
        const res = await api.create(body(url));
        expect(res.status, code).toBe(status);
        expect(res.body).toEqual({ code, message, request_id: expect.any(String) });
      }
      expect((await api.create(body(url))).status).toBe(200);
      expect(sim.records.creates.filter((c) => c.taskId).length).toBe(tasksBefore + 1);
    }
    sim.failNextCreates(1, 'Throttling.AllocationQuota', { message: 'Free allocated quota exceeded.' });
    const res = await api.create(body(url));
    expect(res.body).toMatchObject({ code: 'Throttling.AllocationQuota', message: 'Free allocated quota exceeded.' });
    expect(sim.records.creates.at(-1)!.fault).toBe('failCreates');
  });

  it('fails the next N task queries with the flat error and its status, after the key check; each query is recorded with the task id', async () => {
    const api = client(sim);
    const id = (await api.create(body(url))).body.output.task_id as string;
    sim.failNextRequests('query', 2, 'Throttling');
    sim.failNextRequests('query', 1, 'InternalError');
    sim.failNextRequests('query', 1, 'ModelUnavailable');
    // Aimed at queries only: a create still goes through, and a query refused for its key uses none up.
    expect((await api.create(body(url))).status).toBe(200);
    expect((await queryTask(id, { apiKey: 'sk-00000000000000000000000000000000' })).status).toBe(401);

    const expected: Array<[number, string, string]> = [
      [429, 'Throttling', 'Requests throttling triggered.'],
      [429, 'Throttling', 'Requests throttling triggered.'],
      [500, 'InternalError', 'An internal error has occured, please try again later or contact service support.'],
      [503, 'ModelUnavailable', 'Model is unavailable, please try again later.'],
    ];
    const requestIds: string[] = [];
    for (const [status, code, message] of expected) {
      const res = await queryTask(id);
      expect(res.status, code).toBe(status);
      const answer = (await res.json()) as { request_id: string };
      expect(answer).toEqual({ code, message, request_id: res.headers.get('x-request-id') });
      requestIds.push(answer.request_id);
    }
    const after = await queryTask(id);
    expect(after.status).toBe(200);
    const task = (await after.json()) as { request_id: string; output: { task_id: string; task_status: string } };
    expect(task.output.task_id).toBe(id);
    requestIds.push(task.request_id);

    const recorded = sim.records.queries.filter((q) => q.taskId === id && q.status !== 401);
    expect(recorded.map((q) => [q.status, q.code, q.fault])).toEqual([...expected.map(([status, code]) => [status, code, 'failRequests']), [200, undefined, undefined]]);
    expect(recorded.map((q) => q.requestId)).toEqual(requestIds);
    expect(recorded.at(-1)!.taskStatus).toBe(task.output.task_status);
  });

  it('fails cancels, lists and upload policies the same way through POST /__admin/faults; result downloads and uploads are not its kinds', async () => {
    const api = client(sim);
    await api.create(body(url)); // holds the key's one slot (if nothing else does), so the next task stays PENDING
    const id = (await api.create(body(url))).body.output.task_id as string;
    const injected = await postAdmin('faults', [
      { type: 'failRequests', kind: 'cancel', code: 'Throttling.BurstRate' },
      { type: 'failRequests', kind: 'list', code: 'SystemError' },
      { type: 'failRequests', kind: 'getPolicy', code: 'InternalError', status: 503, message: 'policy service busy' },
    ]);
    expect(await injected.json()).toEqual({ ok: true, applied: [true, true, true] });

    const cancel = await api.cancel(id);
    expect(cancel.status).toBe(429);
    expect(cancel.body).toEqual({ code: 'Throttling.BurstRate', message: expect.stringMatching(/Request rate increased too quickly/), request_id: expect.any(String) });
    expect(sim.records.cancels.at(-1)).toMatchObject({ taskId: id, status: 429, fault: 'failRequests' });
    expect(sim.task(id)!.status).toBe('PENDING'); // refused unprocessed
    const list = await api.list();
    expect(list.status).toBe(500);
    expect(list.body).toEqual({ code: 'SystemError', message: 'An system error has occured, please try again later.', request_id: expect.any(String) });
    const policy = await api.raw(`/uploads?action=getPolicy&model=${MODEL}`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    expect(policy.status).toBe(503);
    expect(policy.body).toEqual({ code: 'InternalError', message: 'policy service busy', request_id: expect.any(String) });
    // Each struck once; the next of each kind is answered normally.
    expect((await api.list()).status).toBe(200);
    expect((await api.cancel(id)).status).toBe(200);
    expect(sim.task(id)!.status).toBe('CANCELED');

    for (const kind of ['result', 'upload']) {
      const refused = await postAdmin('faults', { type: 'failRequests', kind, code: 'InternalError' });
      expect(refused.status, kind).toBe(400);
    }
  });

  it('fails the next task, or a task by id, with a task-level code', async () => {
    const api = client(sim);
    sim.failTask('DataInspectionFailed');
    const next = await api.create(body(url, { n: 2 }));
    const done = await finish(sim, api, next.body.output.task_id);
    expect(done.body.output).toMatchObject({
      task_status: 'FAILED',
      code: 'DataInspectionFailed',
      message: expect.any(String),
      task_metrics: { TOTAL: 2, SUCCEEDED: 0, FAILED: 2 },
    });
    expect(done.body.usage).toBeUndefined();

    const first = await api.create(body(url));
    const second = await api.create(body(url));
    expect(sim.failTask('InternalError.Timeout', { taskId: second.body.output.task_id })).toBe(true);
    expect((await finish(sim, api, first.body.output.task_id)).body.output.task_status).toBe('SUCCEEDED');
    const failed = await finish(sim, api, second.body.output.task_id);
    expect(failed.body.output).toMatchObject({ task_status: 'FAILED', code: 'InternalError.Timeout', message: expect.stringMatching(/internal timeout/) });
    expect(sim.failTask('InternalError', { taskId: 'no-such-task' })).toBe(false);
  });

  it('partial failure: k of n images fail, the task SUCCEEDED, usage counts successes', async () => {
    const api = client(sim);
    const billed = sim.records.imageCount;
    sim.partialFailure(1);
    const created = await api.create(body(url, { n: 3 }));
    const done = await finish(sim, api, created.body.output.task_id);
    const out = done.body.output;
    expect(out.task_status).toBe('SUCCEEDED');
    expect(out.results).toHaveLength(3);
    expect(out.results.filter((r: { url?: string }) => r.url)).toHaveLength(2);
    expect(out.results[2]).toEqual({ code: 'InternalError.Timeout', message: expect.stringMatching(/internal timeout/) });
    expect(out.task_metrics).toEqual({ TOTAL: 3, SUCCEEDED: 2, FAILED: 1 });
    expect(done.body.usage).toEqual({ image_count: 2 });
    expect(sim.records.imageCount - billed).toBe(2);
    // All images failing is a FAILED task.
    sim.partialFailure(2, { code: 'DataInspectionFailed' });
    const all = await finish(sim, api, (await api.create(body(url, { n: 2 }))).body.output.task_id);
    expect(all.body.output).toMatchObject({ task_status: 'FAILED', code: 'DataInspectionFailed' });
  });

  it('loses a task: by id it answers UNKNOWN at once and frees the slot; "next" is lost when its turn comes', async () => {
    const api = client(sim);
    const a = (await api.create(body(url))).body.output.task_id;
    const b = (await api.create(body(url))).body.output.task_id;
    expect(sim.loseTask(a)).toBe(true);
    expect((await api.query(a)).body.output).toEqual({ task_id: a, task_status: 'UNKNOWN' });
    expect((await api.query(b)).body.output.task_status).toBe('RUNNING');
    await finish(sim, api, b);

    sim.loseTask();
    const c = (await api.create(body(url))).body.output.task_id; // runs at once: lost at once
    expect((await api.query(c)).body.output.task_status).toBe('UNKNOWN');
    expect(sim.records.historyOf(c).map((t) => t.to)).toEqual(['PENDING', 'UNKNOWN']);
  });

  it('hangs the next request of a kind (the client times out), before or after processing', async () => {
    const api = client(sim);
    /** A create by plain fetch that gives up after `ms`, as a client with a timeout does. */
    const createGivingUpAfter = (ms: number) =>
      fetch(`${sim.baseUrl}/services/aigc/image2image/image-synthesis`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.apiKey}`, 'x-dashscope-async': 'enable' },
        body: JSON.stringify(body(url)),
        signal: AbortSignal.timeout(ms),
      });
    sim.hangNext('create');
    const creates = sim.records.creates.length;
    await expect(createGivingUpAfter(300)).rejects.toThrow();
    expect(sim.records.creates.length).toBe(creates); // never processed
    expect((await api.create(body(url))).status).toBe(200); // only the next one

    // 'after': the task is created, the answer is lost (the crash-between-accept-and-store case).
    sim.hangNext('create', 1, 'after');
    await expect(createGivingUpAfter(300)).rejects.toThrow();
    expect(sim.records.creates.at(-1)!.taskId).toEqual(expect.any(String));
    expect(sim.records.networkFaults.at(-1)).toMatchObject({ kind: 'create', fault: 'hang', when: 'after' });
  });

  it('resets connections of a kind: query, result download', async () => {
    const api = client(sim);
    const created = await api.create(body(url));
    const id = created.body.output.task_id;
    sim.resetNext('query', 2);
    await expect(api.query(id)).rejects.toThrow();
    await expect(api.query(id)).rejects.toThrow();
    const done = await finish(sim, api, id);
    sim.resetNext('result');
    await expect(fetch(done.body.output.results[0].url)).rejects.toThrow();
    expect((await fetch(done.body.output.results[0].url)).status).toBe(200);
  });

  it('slows responses of a kind by the given real latency', async () => {
    const api = client(sim);
    sim.slow('query', 250, 1);
    const t0 = Date.now();
    await api.query('x');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    const t1 = Date.now();
    await api.query('x');
    expect(Date.now() - t1).toBeLessThan(200);
  });

  it('takes the same faults through POST /__admin/faults and exposes records and the clock', async () => {
    const api = client(sim);
    const post = postAdmin;

    const ok = await post('faults', [{ type: 'failCreates', code: 'ModelUnavailable' }, { type: 'partial', failed: 1 }]);
    expect(await ok.json()).toEqual({ ok: true, applied: [true, true] });
    const failed = await api.create(body(url));
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ code: 'ModelUnavailable', message: expect.any(String), request_id: expect.any(String) });
    const partial = await finish(sim, api, (await api.create(body(url, { n: 2 }))).body.output.task_id);
    expect(partial.body.usage.image_count).toBe(1);

    const bad = await post('faults', { type: 'explode' });
    expect(bad.status).toBe(400);

    const id = (await api.create(body(url))).body.output.task_id;
    expect(await (await post('faults', { type: 'loseTask', taskId: id })).json()).toMatchObject({ ok: true });
    expect((await api.query(id)).body.output.task_status).toBe('UNKNOWN');

    const before = sim.now();
    const adv = (await (await post('advance', { ms: 3_600_000 })).json()) as { now: number };
    expect(adv.now).toBeGreaterThanOrEqual(before + 3_600_000);

    const records = (await (await fetch(`${sim.origin}/__admin/records`)).json()) as { creates: unknown[] };
    expect(records.creates.length).toBe(sim.records.creates.length);
    expect(records).toHaveProperty('busy');
    expect(records).toHaveProperty('maxInFlight');
    expect(JSON.stringify(records)).not.toContain(sim.apiKey);

    expect((await fetch(`${sim.origin}/__admin/faults`, { method: 'DELETE' })).status).toBe(200);
  });

  it('takes hang, reset, slow and failTask through POST /__admin/faults', async () => {
    const api = client(sim);
    const applied = async (payload: unknown) => (await (await postAdmin('faults', payload)).json()) as { ok: boolean; applied: boolean[] };
    const struck = sim.records.networkFaults.length;

    expect(await applied({ type: 'hang', kind: 'query' })).toEqual({ ok: true, applied: [true] });
    await expect(queryTask('x', { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(await applied({ type: 'reset', kind: 'query', count: 2 })).toEqual({ ok: true, applied: [true] });
    await expect(queryTask('x')).rejects.toThrow();
    await expect(queryTask('x')).rejects.toThrow();
    expect((await queryTask('x')).status).toBe(200);
    expect(sim.records.networkFaults.slice(struck).map((f) => [f.kind, f.fault, f.when])).toEqual([
      ['query', 'hang', 'before'],
      ['query', 'reset', 'before'],
      ['query', 'reset', 'before'],
    ]);

    expect(await applied({ type: 'slow', kind: 'query', ms: 250, count: 1 })).toEqual({ ok: true, applied: [true] });
    const t0 = Date.now();
    expect((await queryTask('x')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    const t1 = Date.now();
    await queryTask('x');
    expect(Date.now() - t1).toBeLessThan(200);

    // failTask for the next task, and for a task by id (false for an id that does not exist).
    expect(await applied({ type: 'failTask', code: 'DataInspectionFailed' })).toEqual({ ok: true, applied: [true] });
    const next = (await api.create(body(url))).body.output.task_id;
    const byId = (await api.create(body(url))).body.output.task_id;
    expect(await applied([{ type: 'failTask', taskId: byId, code: 'InternalError.Algo' }, { type: 'failTask', taskId: 'no-such-task', code: 'InternalError' }])).toEqual({
      ok: false,
      applied: [true, false],
    });
    expect((await finish(sim, api, next)).body.output).toMatchObject({ task_status: 'FAILED', code: 'DataInspectionFailed' });
    expect((await finish(sim, api, byId)).body.output).toMatchObject({ task_status: 'FAILED', code: 'InternalError.Algo', message: expect.stringMatching(/algorithm execution/) });
  });
});
