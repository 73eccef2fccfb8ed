/**
 * The pure lifecycle (lib/core/lifecycle): each rule of SPEC §4 as a plain function of its inputs.
 * The explorer (test/explore) proves the shells that apply them; these pin the rules themselves.
 */
import { describe, expect, it } from 'vitest';
import { ModelError, TransportError } from '../../lib/errors.js';
import {
  afterCreate,
  afterQuery,
  claim,
  followsSlot,
  LIFECYCLE_RULES,
  matchOrphans,
  matchOrphansPerModel,
  QUERY_FAILURES_LOST,
  type Ctx,
} from '../../lib/core/lifecycle/index.js';
import type { TaskView } from '../../lib/core/ports.js';
import type { SlotView, VersionRecord } from '../../lib/core/records.js';

const config = { dashscope: { apiKey: 'k', baseUrl: 'http://x', timeoutMs: 15_000 }, maxAttempts: 3, pollIntervalMs: 2000, accountRetryMs: 60_000 };
const ctx = (now = 1_000_000): Ctx => ({ now, config, rules: LIFECYCLE_RULES, random: () => 0.5 });

const queued: VersionRecord = {
  id: 'v1',
  sketch: { key: 'sketches/cat.png', etag: 'e', size: 10 },
  state: 'QUEUED',
  createdAt: 0,
  updatedAt: 0,
  warnings: [],
  attempts: 0,
  queuedAt: 5,
  request: { prompt: 'a cat', parameters: { style: '<auto>', size: '768*768', n: 1 }, normalized: false },
};

function claimed(index = 0) {
  const c = claim(queued, { jobId: 'j', jobKey: 'sketches/cat', index, owner: 'me', images: 1, milliCny: 60, budgetDay: '2026-12-02' }, ctx());
  const slot: SlotView = { model: 'wanx-sketch-to-image-lite', index, rev: 1, slot: c.slot };
  return { slot, version: c.version };
}

function inflight(taskId = 'T1') {
  const { slot, version } = claimed();
  const created = afterCreate(slot, { taskId }, ctx());
  if (created.kind !== 'created') throw new Error('expected created');
  return { slot: { ...slot, rev: 2, slot: created.slot }, version: created.version(version)! };
}

const view = (status: string, extra: Partial<TaskView> = {}): { view: TaskView } => ({ view: { taskId: 'T1', status, results: [], imageCount: 0, ...extra } });

describe('claim and create', () => {
  it('a claim counts the attempt and leases the slot for two timeouts and a second', () => {
    const { slot, version } = claimed();
    expect(version).toMatchObject({ state: 'SUBMITTING', attempts: 1, slot: 0 });
    expect(slot.slot).toMatchObject({ state: 'submitting', attempt: 1, leaseUntil: 1_000_000 + 31_000 });
  });

  it('a refusal with a DashScope body created nothing: back in its place, the attempt not counted', () => {
    const { slot, version } = claimed();
    const d = afterCreate(slot, { error: new ModelError('Throttling.RateQuota', 'slow down', 429, 'r') }, ctx());
    expect(d.kind).toBe('requeue');
    if (d.kind !== 'requeue') return;
    expect(d.cls).toBe('throttled');
    expect(d.version(version)).toMatchObject({ state: 'QUEUED', attempts: 0, refusals: 1, queuedAt: 5 });
  });

  it('a gateway 504 without a body, or a reset, is an unknown outcome: reconciled at once, still counted (run 2)', () => {
    for (const error of [new ModelError('HTTP504', '<html>', 504), new TransportError('dashscope', 'socket hang up', true)]) {
      const { slot } = claimed();
      const d = afterCreate(slot, { error }, ctx());
      expect(d).toEqual({ kind: 'unknown', slot: { ...slot.slot, leaseUntil: 1_000_000 } });
    }
  });

  it('an account refusal pauses submission and keeps the job queued, not failed (run 6)', () => {
    const { slot, version } = claimed();
    const d = afterCreate(slot, { error: new ModelError('InvalidApiKey', 'Invalid API-key provided.', 401, 'r') }, ctx());
    expect(d.kind).toBe('requeue');
    if (d.kind !== 'requeue') return;
    expect(d.pause).toMatchObject({ code: 'InvalidApiKey', since: 1_000_000, retryAt: 1_060_000, probes: 0 });
    expect(d.version(version)).toMatchObject({ state: 'QUEUED', attempts: 0 });
    // A refused probe doubles the wait.
    const again = afterCreate(slot, { error: new ModelError('Arrearage', 'overdue', 400, 'r') }, { ...ctx(2_000_000), pause: d.pause! });
    expect(again.kind === 'requeue' && again.pause).toMatchObject({ since: 1_000_000, retryAt: 2_120_000, probes: 1 });
  });

  it('a terminal refusal ends the job with DashScope’s code', () => {
    const { slot } = claimed();
    expect(afterCreate(slot, { error: new ModelError('InvalidParameter', 'bad n', 400, 'r') }, ctx())).toEqual({ kind: 'fail', error: { code: 'InvalidParameter', message: 'bad n' } });
  });

  it('a stale decision changes nothing: the version moved on', () => {
    const { slot, version } = claimed();
    const d = afterCreate(slot, { taskId: 'T1' }, ctx());
    expect(d.kind === 'created' && d.version({ ...version, state: 'QUEUED' })).toBeUndefined();
    expect(d.kind === 'created' && d.version({ ...version, claim: 'another-claim/1/1' })).toBeUndefined();
  });
});

describe('task queries', () => {
  it('RUNNING: the version goes RUNNING, the slot is left alone (nothing to write per task)', () => {
    const { slot, version } = inflight();
    const d = afterQuery({ slot, version, reply: view('RUNNING') }, ctx(2_000_000));
    expect(d.kind).toBe('keep');
    if (d.kind !== 'keep') return;
    expect(d.slot).toBeUndefined();
    expect(d.version!(version)).toMatchObject({ state: 'RUNNING' });
  });

  it('a status outside the documented set is not lost: keep following, warn (run 3)', () => {
    const { slot, version } = inflight();
    for (const status of ['Succeeded', '', 'QUEUED']) {
      const d = afterQuery({ slot, version, reply: view(status) }, ctx());
      expect(d.kind).toBe('keep');
      expect(d.kind === 'keep' && d.warn).toMatch(/not one DashScope documents/);
    }
  });

  it('UNKNOWN is lost: sent again within MAX_ATTEMPTS, guarded on the version still following the task (run 5)', () => {
    const { slot, version } = inflight();
    const d = afterQuery({ slot, version, reply: view('UNKNOWN') }, ctx());
    expect(d.kind).toBe('lost');
    if (d.kind !== 'lost') return;
    expect(d.requeue!(version)).toMatchObject({ state: 'QUEUED', attempts: 1, taskId: undefined });
    // A second poller acting late on the same lost task: the version was requeued and sent again.
    expect(d.requeue!({ ...version, state: 'QUEUED', taskId: undefined })).toBeUndefined();
    expect(d.requeue!({ ...version, state: 'SUBMITTED', taskId: 'T2', attempts: 2 })).toBeUndefined();
  });

  it('attempts exhausted: TaskLost', () => {
    const { slot, version } = inflight();
    const d = afterQuery({ slot, version: { ...version, attempts: 3 }, reply: view('FAILED', { code: 'InternalError.Timeout' }) }, ctx());
    expect(d.kind === 'lost' && d.outcome?.error?.code).toBe('TaskLost');
  });

  it('a query failing for good a few times in a row is a lost task, not a slot busy for ever (run 7)', () => {
    let { slot } = inflight();
    const { version } = inflight();
    const error = new ModelError('InvalidParameter', 'task id invalid', 400, 'r');
    for (let i = 1; i < QUERY_FAILURES_LOST; i++) {
      const d = afterQuery({ slot, version, reply: { error } }, ctx());
      expect(d.kind).toBe('keep');
      slot = { ...slot, slot: (d as { slot: SlotView['slot'] }).slot };
    }
    expect(afterQuery({ slot, version, reply: { error } }, ctx()).kind).toBe('lost');
    // A transient failure never counts.
    expect(afterQuery({ slot, version, reply: { error: new ModelError('HTTP502', '', 502) } }, ctx())).toMatchObject({ kind: 'keep' });
  });

  it('a task no current version follows: cancelled while PENDING, let go once it ends', () => {
    const { slot, version } = inflight();
    const newer = { ...version, id: 'v2', state: 'QUEUED' as const };
    expect(afterQuery({ slot, version: newer, reply: view('PENDING') }, ctx()).kind).toBe('cancel');
    expect(afterQuery({ slot, version: newer, reply: view('RUNNING') }, ctx()).kind).toBe('keep');
    expect(afterQuery({ slot, version: newer, reply: view('SUCCEEDED') }, ctx()).kind).toBe('release');
  });

  it('who follows a slot: the version holding its task, or SUBMITTING this very attempt in it', () => {
    const { slot, version } = inflight();
    expect(followsSlot(version, slot)).toBe(true);
    expect(followsSlot({ ...version, taskId: 'T2' }, slot)).toBe(false);
    expect(followsSlot({ ...version, state: 'SUBMITTING', taskId: undefined, claim: slot.slot.claim }, slot)).toBe(true);
    // Another claim of the same version and attempt (one whose claimant died before its job write).
    expect(followsSlot({ ...version, state: 'SUBMITTING', taskId: undefined, claim: 'someone-else/1/1' }, slot)).toBe(false);
    expect(followsSlot({ ...version, state: 'QUEUED' }, slot)).toBe(false);
  });
});

describe('matchOrphans: all expired slots against one listing (run 1)', () => {
  const slot = (index: number): SlotView => ({ model: 'wanx-sketch-to-image-lite', index, rev: 3, slot: { state: 'submitting', jobId: `j${index}`, versionId: 'v', attempt: 1 } });
  const task = (taskId: string) => ({ taskId, status: 'RUNNING' });
  const free = (index: number): SlotView => ({ model: 'wanx-sketch-to-image-lite', index, rev: 1, slot: { state: 'free' } });

  it('one orphaned slot and one unknown task are each other’s', () => {
    expect(matchOrphans({ expired: [slot(0)], unknown: [task('T1')], free: [] })).toEqual({ adopt: [{ slot: slot(0), task: task('T1') }], hold: [], requeue: [], unheld: [] });
  });

  it('two and two: each slot holds a different task and both versions go back to the queue', () => {
    const plan = matchOrphans({ expired: [slot(0), slot(1)], unknown: [task('T1'), task('T2')], free: [] });
    expect(plan.adopt).toEqual([]);
    expect(plan.hold.map((h) => [h.slot.index, h.task.taskId, h.requeue])).toEqual([
      [0, 'T1', true],
      [1, 'T2', true],
    ]);
  });

  it('more unknown tasks than orphaned slots: free slots hold the rest, so the bound counts them', () => {
    const plan = matchOrphans({ expired: [slot(0)], unknown: [task('T1'), task('T2'), task('T3')], free: [free(1)] });
    expect(plan.hold.map((h) => [h.slot.index, h.task.taskId, h.requeue])).toEqual([
      [0, 'T1', true],
      [1, 'T2', false],
    ]);
    expect(plan.unheld.map((t) => t.taskId)).toEqual(['T3']);
  });

  it('no unknown task: nothing reached DashScope, back to the queue', () => {
    expect(matchOrphans({ expired: [slot(0), slot(1)], unknown: [], free: [] }).requeue.map((s) => s.index)).toEqual([0, 1]);
  });
});

describe('matchOrphansPerModel: each model against its own tasks (issue 16)', () => {
  const LITE = 'wanx-sketch-to-image-lite';
  const EDIT = 'wanx2.1-imageedit';
  const slot = (model: string, index: number): SlotView => ({ model, index, rev: 3, slot: { state: 'submitting', jobId: `${model}-${index}`, versionId: 'v', attempt: 1 } });
  const free = (model: string, index: number): SlotView => ({ model, index, rev: 1, slot: { state: 'free' } });
  const task = (taskId: string, model?: string) => ({ taskId, status: 'RUNNING', ...(model ? { model } : {}) });

  it('one orphan of each of two models: both adopted (a single matcher would see two and two, and pay twice)', () => {
    const plan = matchOrphansPerModel({ expired: [slot(LITE, 0), slot(EDIT, 0)], unknown: [task('T1', EDIT), task('T2', LITE)], free: [], models: [LITE, EDIT] });
    expect(plan.adopt.map((a) => [a.slot.model, a.task.taskId])).toEqual([
      [LITE, 'T2'],
      [EDIT, 'T1'],
    ]);
    expect(plan.hold).toEqual([]);
    expect(matchOrphans({ expired: [slot(LITE, 0), slot(EDIT, 0)], unknown: [task('T1', EDIT), task('T2', LITE)], free: [] }).adopt).toEqual([]);
  });

  it('an unknown task is held only by a free slot of its own model', () => {
    const plan = matchOrphansPerModel({ expired: [slot(LITE, 0)], unknown: [task('T1', LITE), task('T2', LITE), task('T3', EDIT)], free: [free(LITE, 1), free(EDIT, 0)], models: [LITE, EDIT] });
    expect(plan.hold.map((h) => [h.slot.model, h.slot.index, h.task.taskId, h.requeue])).toEqual([
      [LITE, 0, 'T1', true],
      [LITE, 1, 'T2', false],
      [EDIT, 0, 'T3', false],
    ]);
    expect(plan.unheld).toEqual([]);
  });

  it('a task without a model (the listing did not say) is never guessed: unheld', () => {
    const plan = matchOrphansPerModel({ expired: [slot(LITE, 0)], unknown: [task('T1')], free: [], models: [LITE, EDIT] });
    expect(plan.adopt).toEqual([]);
    expect(plan.requeue.map((s) => s.model)).toEqual([LITE]);
    expect(plan.unheld.map((t) => t.taskId)).toEqual(['T1']);
  });

  it('uses the rule it is given (the explorer swaps matchOrphans)', () => {
    const seen: number[] = [];
    matchOrphansPerModel({ expired: [slot(LITE, 0)], unknown: [], free: [], models: [LITE, EDIT] }, (input) => {
      seen.push(input.expired.length);
      return { adopt: [], hold: [], requeue: [], unheld: [] };
    });
    expect(seen).toEqual([1, 0]);
  });
});

