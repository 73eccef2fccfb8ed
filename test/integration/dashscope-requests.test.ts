/**
 * Request checks (issue 4): API key, async header, model, body validation and the rate limits,
 * each answering the service's flat `{code, message, request_id}` with its HTTP status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body, client, CREATE_PATH, crossSketch, startSketchServer, type SketchServer } from './dashscope-helpers.js';

const errorShape = (code: string, message: unknown = expect.any(String)) => ({ code, message, request_id: expect.any(String) });

describe('DashScope simulator: request checks', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let url: string;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    url = sketches.url('/s.png');
    sim = await startDashScopeSimulator({ timeScale: 0.005, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  });

  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  it('401 InvalidApiKey without a key or with a wrong one', async () => {
    const none = await fetch(`${sim.baseUrl}${CREATE_PATH}`, { method: 'POST', headers: { 'x-dashscope-async': 'enable' }, body: JSON.stringify(body(url)) });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual(errorShape('InvalidApiKey', 'No API-key provided.'));

    const wrong = await client(sim, 'sk-00000000000000000000000000000000').create(body(url));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(errorShape('InvalidApiKey', 'Invalid API-key provided.'));

    const query = await client(sim, 'sk-nope').query('x');
    expect(query.status).toBe(401);
    expect(query.body.code).toBe('InvalidApiKey');
  });

  it('403 AccessDenied without X-DashScope-Async: enable', async () => {
    const res = await client(sim).create(body(url), { 'x-dashscope-async': '' });
    expect(res.status).toBe(403);
    expect(res.body).toEqual(errorShape('AccessDenied', 'current user api does not support synchronous calls'));
  });

  it('400 for an unknown model', async () => {
    const res = await client(sim).create({ ...body(url), model: 'wanx-v1' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorShape('InvalidParameter', 'Model not exist.'));
  });

  it('400 InvalidParameter naming the field: n, style, size, sketch_weight, sketch_color, prompt, url', async () => {
    const api = client(sim);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ n: 5 }, 'parameters.n'],
      [{ n: 0 }, 'parameters.n'],
      [{ n: 1.5 }, 'parameters.n'],
      [{ style: '<pencil>' }, 'parameters.style'],
      [{ size: '1024*1024' }, 'parameters.size'],
      [{ sketch_weight: 11 }, 'parameters.sketch_weight'],
      [{ sketch_color: [[0, 0, 256]] }, 'parameters.sketch_color'],
      [{ sketch_color: [[0, 0]] }, 'parameters.sketch_color'],
      [{ sketch_extraction: 'yes' }, 'parameters.sketch_extraction'],
    ];
    for (const [parameters, field] of cases) {
      const res = await api.create(body(url, parameters));
      expect(res.status, JSON.stringify(parameters)).toBe(400);
      expect(res.body).toEqual(errorShape('InvalidParameter'));
      expect(res.body.message).toContain(field);
    }
    const n5 = await api.create(body(url, { n: 5 }));
    expect(n5.body.message).toMatch(/parameters\.n .*1 and 4.*\(got 5\)/);

    const noPrompt = await api.create({ model: 'wanx-sketch-to-image-lite', input: { sketch_image_url: url } });
    expect(noPrompt.body.message).toContain('Field required: input.prompt');
    const empty = await api.create(body(url, {}, '   '));
    expect(empty.body.message).toContain('input.prompt');
    const noUrl = await api.create({ model: 'wanx-sketch-to-image-lite', input: { prompt: 'x' } });
    expect(noUrl.body.message).toContain('input.sketch_image_url');
    const ftp = await api.create(body('ftp://host/s.png'));
    expect(ftp.body.message).toContain('input.sketch_image_url');
    const notJson = await api.raw(CREATE_PATH, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.apiKey}`, 'x-dashscope-async': 'enable', 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('InvalidParameter');
  });

  it('accepts every documented style and parameter, and cuts prompts at 75 characters silently', async () => {
    const api = client(sim);
    for (const style of ['<auto>', '<3d cartoon>', '<anime>', '<oil painting>', '<watercolor>', '<sketch>', '<chinese painting>', '<flat illustration>']) {
      const res = await api.create(body(url, { style, n: 1, size: '768*768', sketch_weight: 0, sketch_extraction: false, sketch_color: [[0, 0, 0]] }));
      expect(res.status, style).toBe(200);
    }
    const long = 'a'.repeat(70) + '一棵参天大树'; // 76 characters
    const res = await api.create(body(url, { n: 1 }, long));
    expect(res.status).toBe(200);
    const rec = sim.records.creates.find((c) => c.taskId === res.body.output.task_id)!;
    expect(rec.promptTruncated).toBe(true);
    expect(sim.task(res.body.output.task_id)!.request.prompt).toBe('a'.repeat(70) + '一棵参天大');
  });

  it('accepts the create path with a trailing slash as the same endpoint', async () => {
    const api = client(sim);
    const res = await api.raw(`${CREATE_PATH}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.apiKey}`, 'x-dashscope-async': 'enable', 'content-type': 'application/json' },
      body: JSON.stringify(body(url)),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ request_id: expect.any(String), output: { task_id: expect.any(String), task_status: 'PENDING' } });
    const taskId = res.body.output.task_id as string;
    expect(sim.records.creates.find((c) => c.taskId === taskId)).toMatchObject({ status: 200, sketchPath: '/s.png', requestId: res.body.request_id });
    expect((await api.query(taskId)).body.output.task_id).toBe(taskId);
    // The same checks apply there: no async header is still refused.
    const sync = await api.raw(`${CREATE_PATH}/`, { method: 'POST', headers: { authorization: `Bearer ${sim.apiKey}` }, body: JSON.stringify(body(url)) });
    expect(sync.status).toBe(403);
  });

  it('unknown tasks answer UNKNOWN with HTTP 200', async () => {
    const res = await client(sim).query('0385dc79-5ff8-4d82-bcb6-5b9b5d4f0000');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ request_id: expect.any(String), output: { task_id: '0385dc79-5ff8-4d82-bcb6-5b9b5d4f0000', task_status: 'UNKNOWN' } });
  });
});

describe('DashScope simulator: rate limits (default 2 submits/s, 20 queries/s, real-time windows)', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    sim = await startDashScopeSimulator({ timeScale: 0.005 });
  });

  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  it('5 submissions in one second: 2 accepted, 3 × 429 Throttling.RateQuota; accepted again after the window', async () => {
    const api = client(sim);
    const answers = await Promise.all(Array.from({ length: 5 }, () => api.create(body(sketches.url('/s.png')))));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.body).toEqual(errorShape('Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.'));
    }
    // No task was made for a throttled create.
    expect(sim.records.creates.filter((c) => c.taskId)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1050));
    expect((await api.create(body(sketches.url('/s.png')))).status).toBe(200);
  });

  it('more than 20 task queries in one second → 429', async () => {
    const api = client(sim);
    const answers = await Promise.all(Array.from({ length: 25 }, () => api.query('some-task')));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(20);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(5);
    expect(limited[0]!.body).toEqual(errorShape('Throttling.RateQuota'));
  });

  it('limits are per key', async () => {
    const two = await startDashScopeSimulator({ apiKeys: ['sk-11111111111111111111111111111111', 'sk-22222222222222222222222222222222'], timeScale: 0.005 });
    try {
      const make = (key: string) => client(two, key).create(body(sketches.url('/s.png')));
      const statuses = await Promise.all([make(two.apiKeys[0]!), make(two.apiKeys[0]!), make(two.apiKeys[1]!), make(two.apiKeys[1]!)]);
      expect(statuses.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await two.close();
    }
  });
});
