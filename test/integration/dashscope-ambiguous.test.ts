/**
 * Ambiguous replies (issue 13, issue 15): a create that makes its task and then answers a gateway
 * 5xx, resets or hangs — and the same without making it; refusals with a DashScope body that make
 * nothing; query statuses outside the documented set; account refusals that last until fixed;
 * gateway errors on every call. Plain HTTP (fetch) against the simulator, frozen clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body, client, CREATE_PATH, crossSketch, FROZEN, startSketchServer, type SketchServer } from './dashscope-helpers.js';

async function waitFor(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('DashScope simulator: ambiguous replies', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let url: string;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    url = sketches.url('/s.png');
    sim = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  const tasksMade = () => sim.records.creates.filter((c) => c.taskId !== undefined).length;
  const rawCreate = (signal?: AbortSignal) =>
    fetch(`${sim.baseUrl}${CREATE_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json', 'x-dashscope-async': 'enable' },
      body: JSON.stringify(body(url)),
      signal,
    });

  it('a gateway 5xx without a DashScope body, after the task was made (HTML, empty, text) or before', async () => {
    const cases: Array<[number, 'html' | 'empty' | 'text', 'before' | 'after']> = [
      [502, 'html', 'after'],
      [504, 'empty', 'after'],
      [504, 'text', 'after'],
      [502, 'html', 'before'],
      [503, 'empty', 'before'],
    ];
    for (const [status, kind, when] of cases) {
      const before = tasksMade();
      sim.gateway('create', { status, body: kind, when });
      const res = await rawCreate();
      const text = await res.text();
      expect(res.status, `${status} ${kind} ${when}`).toBe(status);
      expect(() => JSON.parse(text)).toThrow(); // never DashScope's JSON
      if (kind === 'html') expect(res.headers.get('content-type')).toMatch(/text\/html/);
      if (kind === 'empty') expect(text).toBe('');
      expect(tasksMade() - before, `${status} ${kind} ${when}`).toBe(when === 'after' ? 1 : 0);
      expect(sim.records.networkFaults.at(-1)).toMatchObject({ kind: 'create', fault: 'gateway', status, when });
    }
    // The task made behind the gateway error exists and can be listed.
    const made = sim.records.creates.filter((c) => c.taskId !== undefined).at(-1)!;
    expect(sim.task(made.taskId!)).toBeDefined();
  });

  it('a reset or a hang past the client timeout, after the task was made or before', async () => {
    for (const when of ['after', 'before'] as const) {
      let before = tasksMade();
      sim.resetNext('create', 1, when);
      await expect(rawCreate()).rejects.toThrow();
      expect(tasksMade() - before, `reset ${when}`).toBe(when === 'after' ? 1 : 0);

      before = tasksMade();
      const faultsBefore = sim.records.networkFaults.length;
      sim.hangNext('create', 1, when);
      // The client gives up (its own timeout); the simulator never answers.
      await expect(rawCreate(AbortSignal.timeout(300))).rejects.toThrow(/abort|timeout/i);
      // The hang is recorded when it strikes (after the work, for 'after'): wait for that, not for a clock.
      await waitFor(() => sim.records.networkFaults.length > faultsBefore);
      expect(tasksMade() - before, `hang ${when}`).toBe(when === 'after' ? 1 : 0);
    }
  });

  it('a refusal with a DashScope body (429 Throttling.RateQuota, 500 InternalError) makes nothing', async () => {
    const api = client(sim);
    for (const [code, status] of [['Throttling.RateQuota', 429], ['InternalError', 500]] as const) {
      const before = tasksMade();
      sim.failNextCreates(1, code);
      const res = await api.create(body(url));
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ code, message: expect.any(String), request_id: expect.any(String) });
      expect(tasksMade()).toBe(before);
    }
  });

  it('task queries answer statuses outside the documented set, and UNKNOWN for a task it still has', async () => {
    const api = client(sim);
    const id = (await api.create(body(url))).body.output.task_id as string;
    sim.queryStatus('Succeeded', { taskId: id });
    sim.queryStatus(null, { taskId: id });
    sim.queryStatus('ARCHIVED', { taskId: id });
    sim.queryStatus('UNKNOWN', { taskId: id });
    const seen: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await api.query(id);
      expect(res.status).toBe(200);
      seen.push(res.body.output.task_status);
      expect(res.body.output.task_id).toBe(id);
    }
    expect(seen).toEqual(['Succeeded', undefined, 'ARCHIVED', 'UNKNOWN']);
    // The UNKNOWN answer is the bare one; the task itself is still there.
    expect(sim.task(id)?.status).toMatch(/PENDING|RUNNING/);
    expect((await api.query(id)).body.output.task_status).toMatch(/PENDING|RUNNING/);
    expect(sim.records.queries.filter((q) => q.taskId === id && q.fault === 'queryStatus')).toHaveLength(4);
  });

  it('account refusals on create last until the account is fixed', async () => {
    const api = client(sim);
    const cases = [
      ['InvalidApiKey', 401, 'Invalid API-key provided.'],
      ['Arrearage', 400, 'Access denied, please make sure your account is in good standing.'],
      ['AccessDenied.Unpurchased', 403, 'Access to model denied. Please make sure you are eligible for using the model.'],
      ['Throttling.AllocationQuota', 429, 'Free allocated quota exceeded.'],
    ] as const;
    const id = (await api.create(body(url))).body.output.task_id as string;
    for (const [problem, status, message] of cases) {
      const before = tasksMade();
      sim.account(problem);
      for (let i = 0; i < 3; i++) {
        const res = await api.create(body(url));
        expect(res.status, problem).toBe(status);
        expect(res.body).toEqual({ code: problem, message, request_id: expect.any(String) });
      }
      // A bad key refuses every call; the other problems only creates.
      expect((await api.query(id)).status).toBe(problem === 'InvalidApiKey' ? 401 : 200);
      expect(tasksMade()).toBe(before);
      sim.account(null); // fixed
      expect((await api.create(body(url))).status).toBe(200);
    }
    // Per key, and through the admin API.
    const admin = await fetch(`${sim.origin}/__admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'account', problem: 'Arrearage', apiKeyId: sim.apiKeyId }),
    });
    expect(admin.status).toBe(200);
    expect((await api.create(body(url))).body.code).toBe('Arrearage');
    await fetch(`${sim.origin}/__admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'account', problem: null }) });
    expect((await api.create(body(url))).status).toBe(200);
  });

  it('gateway errors in front of query, cancel and list; before = not processed, after = processed', async () => {
    const api = client(sim);
    await api.create(body(url)); // keeps the slot busy
    const id = (await api.create(body(url))).body.output.task_id as string;
    for (const kind of ['query', 'list'] as const) {
      sim.gateway(kind, { status: 504, body: 'empty' });
      const res = kind === 'query' ? await api.query(id) : await api.list();
      expect(res.status).toBe(504);
      expect(res.body).toBe('');
    }
    sim.gateway('cancel', { when: 'before' });
    expect((await api.cancel(id)).status).toBe(502);
    expect(sim.task(id)?.status).toBe('PENDING');
    sim.gateway('cancel', { when: 'after' });
    expect((await api.cancel(id)).status).toBe(502);
    expect(sim.task(id)?.status).toBe('CANCELED');
  });

  it('a list that answers an error (DashScope body or gateway)', async () => {
    const api = client(sim);
    sim.failNextRequests('list', 1, 'InternalError');
    const res = await api.list();
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'InternalError', request_id: expect.any(String) });
    expect(sim.records.lists.at(-1)).toMatchObject({ status: 500, code: 'InternalError', fault: 'failRequests' });
    expect((await api.list()).status).toBe(200);
  });
});
