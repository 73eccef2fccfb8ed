/**
 * Our undici client (lib/adapters/dashscope.ts) against the simulator, under each plausible
 * reading of what no public source confirms (lib/local/dashscope/README.md "Switches"): the task
 * list's paging, page size, totals, order and time format; the cancel reply; gateway answers in
 * front of DashScope; statuses outside the documented set. A guess must not hide a bug: the client
 * must read every variant right, or fail loudly.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImageModel } from '../../lib/adapters/dashscope.js';
import { classify } from '../../lib/core/lifecycle/index.js';
import type { ImageModel } from '../../lib/core/ports.js';
import { ModelError } from '../../lib/errors.js';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { crossSketch, startSketchServer, type SketchServer } from './dashscope-helpers.js';

let sim: DashScopeSimulator;
let sketches: SketchServer;
let model: ImageModel;
const input = () => ({ model: 'wanx-sketch-to-image-lite', prompt: 'a cross', sketchUrl: sketches.url('/cross.png'), parameters: { style: '<auto>' as const, size: '768*768' as const, n: 1 } });

beforeAll(async () => {
  // Frozen clock: tasks stay PENDING/RUNNING while the listing is read.
  sim = await startDashScopeSimulator({ timeScale: 1e6, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  sketches = await startSketchServer();
  sketches.put('/cross.png', await crossSketch());
  model = createImageModel({ apiKey: sim.apiKey, baseUrl: sim.baseUrl, timeoutMs: 2000 });
});
afterAll(async () => {
  await sim?.close();
  await sketches?.close();
});
beforeEach(() => sim.clearFaults());

describe('the task list, read whole under every paging reading', () => {
  let ids: string[] = [];
  beforeAll(async () => {
    // 23 live tasks: more than two pages of the documented default size (10).
    for (let i = 0; i < 23; i++) ids.push((await model.createTask(input())).taskId);
    await sim.flush();
  });

  it.each([
    ['documented defaults', {}],
    ['zero-based pages', { listPaging: 'zero-based' }],
    ['zero-based, no total', { listPaging: 'zero-based', listTotal: 'absent' }],
    ['no total', { listTotal: 'absent' }],
    ['oldest first', { listOrder: 'oldest-first' }],
    ['Beijing time strings', { listTimes: 'beijing' }],
    ['a page size cap of 10, refused above', { listPageSizeMax: 10, listPageSizeOver: 'error' }],
    ['a page size cap of 5, clamped', { listPageSizeMax: 5, listPageSizeOver: 'clamp' }],
    ['no window limit', { listWindowMaxHours: null }],
  ] as const)('%s: every live task exactly once', async (_name, switches) => {
    sim.setSwitches(switches);
    const listed = await model.listLiveTasks();
    expect(listed.map((t) => t.taskId).sort()).toEqual([...ids].sort());
    expect(listed.every((t) => t.model === 'wanx-sketch-to-image-lite')).toBe(true);
    expect(listed.every((t) => t.status === 'PENDING' || t.status === 'RUNNING')).toBe(true);
  });

  it('a list that answers an error fails loudly (reconciliation then holds the slot)', async () => {
    sim.failNextRequests('list', 1, 'InternalError');
    await expect(model.listLiveTasks()).rejects.toBeInstanceOf(ModelError);
  });
});

describe('cancel, under each reading of its reply', () => {
  let own: DashScopeSimulator;
  let ownModel: ImageModel;
  beforeEach(async () => {
    own = await startDashScopeSimulator({ timeScale: 1e6, submitsPerSecond: 1000, queriesPerSecond: 1000 });
    ownModel = createImageModel({ apiKey: own.apiKey, baseUrl: own.baseUrl, timeoutMs: 2000 });
  });
  afterEach(async () => {
    await own.close();
  });

  it.each([
    ['request-id', 'unsupported-operation'],
    ['with-output', 'invalid-parameter'],
    ['request-id', 'ok-noop'],
  ] as const)('reply %s, not-PENDING %s: a PENDING task is canceled; a RUNNING one is not', async (cancelReply, cancelNotPending) => {
    own.setSwitches({ cancelReply, cancelNotPending });
    // One task runs at a time per account: the first runs, the second waits PENDING.
    const running = (await ownModel.createTask(input())).taskId;
    const pending = (await ownModel.createTask(input())).taskId;
    await own.flush();
    expect((await ownModel.getTask(running)).status).toBe('RUNNING');
    expect(await ownModel.cancelTask(pending)).toBe(true);
    expect((await ownModel.getTask(pending)).status).toBe('CANCELED');
    const result = await ownModel.cancelTask(running);
    if (cancelNotPending === 'ok-noop') {
      // A 200 that did nothing: the client cannot tell, but the task's status still says RUNNING,
      // and the pipeline only lets a slot go once a query shows the task ended.
      expect((await ownModel.getTask(running)).status).toBe('RUNNING');
    } else {
      expect(result).toBe(false);
    }
  });
});

describe('gateway answers in front of DashScope', () => {
  it.each(['html', 'empty', 'text'] as const)('a create answered 502 with an %s body is an unknown outcome, whether or not the task was made', async (body) => {
    for (const when of ['before', 'after'] as const) {
      sim.gateway('create', { status: 502, body, when });
      const err = await model.createTask(input()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as ModelError).fromService).toBe(false);
      expect(classify('create', err)).toBe('unknown');
    }
  });

  it('a refusal with a DashScope body is told apart: nothing was made', async () => {
    sim.failNextCreates(1, 'InternalError');
    const err = await model.createTask(input()).catch((e: unknown) => e);
    expect((err as ModelError).fromService).toBe(true);
    expect(classify('create', err)).toBe('retry');
  });

  it('a query answered by a gateway is retried', async () => {
    const id = (await model.createTask(input())).taskId;
    sim.gateway('query', { status: 504, body: 'html' });
    const err = await model.getTask(id).catch((e: unknown) => e);
    expect(classify('query', err)).toBe('retry');
    expect((await model.getTask(id)).taskId).toBe(id);
  });
});

describe('statuses outside the documented set', () => {
  it.each([['Succeeded'], ['QUEUED'], [null]] as const)('%j is handed on as written (not turned into UNKNOWN)', async (status) => {
    const id = (await model.createTask(input())).taskId;
    sim.queryStatus(status, { taskId: id });
    expect((await model.getTask(id)).status).toBe(status ?? '');
  });
});
