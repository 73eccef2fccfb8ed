/**
 * Completion events (issue 17): DashScope's CloudEvent reaches the poller function through the
 * EventBridge trigger and the task is finalized on it; the poller rests meanwhile. Each event
 * fault must do no harm and pay nothing — lost, duplicated, late, out of order, for a task we do
 * not know, before the create's reply — under every shape the trigger may hand events over in.
 *
 * DashScope's clock is frozen: a task ends only when the test moves the clock, after the pipeline
 * has settled, so what finishes a job never depends on how busy the machine is. No timer. Two
 * pipelines per shape: in `p` the rest's safety kick is an hour away, so only events finish jobs;
 * in `q` it comes after a second, to finish what a lost or late event did not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollerReport } from '../../lib/core/poller.js';
import type { TaskEventReport } from '../../lib/core/task-events.js';
import { EVENT_SHAPES } from '../../lib/local/fc.js';
import { POLLER_FUNCTION } from '../../lib/local/pipeline.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const FROZEN = 1e6;

describe.each(EVENT_SHAPES)('completion events delivered as %s', (shape) => {
  let p: TestPipeline;
  let q: TestPipeline;
  let sketch: Buffer;
  let n = 0;

  beforeAll(async () => {
    const options = { timer: false, timeScale: FROZEN, events: { shape } };
    [p, q] = await Promise.all([
      startTestPipeline({ ...options, env: { POLL_BUDGET_SECONDS: '10', EVENT_SAFETY_SECONDS: '3600' } }),
      startTestPipeline({ ...options, env: { POLL_BUDGET_SECONDS: '10', EVENT_SAFETY_SECONDS: '1' } }),
    ]);
    sketch = await lineSketch(384);
  });
  afterAll(async () => {
    await Promise.all([p?.close(), q?.close()]);
  });

  const sim = (x = p) => x.stack.dashscope;
  const results = (x = p) => x.fc.records.filter((r) => r.fn === POLLER_FUNCTION && r.outcome === 'ok').map((r) => r.result);
  const eventReports = (x = p) => results(x).filter((r): r is TaskEventReport => typeof r === 'object' && r !== null && 'followed' in r);
  const pollerReports = (x = p) => results(x).filter((r): r is PollerReport => typeof r === 'object' && r !== null && 'passes' in r);
  const queriesOf = (taskId: string, x = p) => sim(x).records.queries.filter((r) => r.taskId === taskId).length;
  const succeededOnce = (jobKey: string, x = p) => expect(x.states(jobKey).filter((r) => r.state === 'SUCCEEDED')).toHaveLength(1);

  /** Uploads a job; resolves with its task id once the task exists and the pipeline is quiet. */
  const submit = async (label: string, x = p) => {
    const jobKey = `sketches/events-${shape}/${label}-${n++}`;
    await x.put(`${jobKey}.json`, JSON.stringify({ prompt: label }));
    await x.put(`${jobKey}.png`, sketch);
    const taskId = await x.waitFor(`the task of ${jobKey}`, () => sim(x).records.creates.find((c) => c.sketchPath === `/${jobKey}.png` && c.taskId)?.taskId);
    await x.quiet();
    return { jobKey, taskId };
  };
  /** Moves DashScope's clock past the end of `taskId` (and of any task ahead of it). */
  const finish = async (taskId: string, x = p) => {
    for (let i = 0; i < 4 && sim(x).task(taskId)?.status !== 'SUCCEEDED'; i++) {
      const ids = [...new Set(sim(x).records.transitions.map((t) => t.taskId))];
      const live = ids.map((id) => sim(x).task(id)).filter((t): t is NonNullable<typeof t> => t?.status === 'RUNNING');
      if (live.length === 0) throw new Error(`no task is running (${taskId}: ${sim(x).task(taskId)?.status})`);
      const end = Math.min(...live.map((t) => t.scheduledAt! + t.duration));
      sim(x).advance(Math.max(1, end - sim(x).now() + 1));
      await sim(x).flush();
    }
  };
  const done = async (jobKey: string, x = p) => {
    const m = await x.waitForManifest(jobKey, 20_000);
    await x.quiet();
    expect(m.status).toBe('SUCCEEDED');
    expect(x.submissions(`${m.source.key}`)).toBe(1);
    succeededOnce(jobKey, x);
    return m;
  };

  it('the event finalizes the task; the poller rested meanwhile instead of polling', async () => {
    const reports = pollerReports().length;
    const { jobKey, taskId } = await submit('plain');
    // Every busy slot holds a task that can only end: the poller stopped, a safety kick pending.
    expect(pollerReports().slice(reports).some((r) => r.restUntil !== undefined)).toBe(true);
    const before = eventReports().length;
    await finish(taskId);
    await done(jobKey);
    expect(eventReports().slice(before).some((r) => r.followed.includes(taskId) && r.finalized === 1)).toBe(true);
    // Not polled while it ran: the poller's query when it went in flight, and the event's.
    expect(queriesOf(taskId)).toBe(2);
  });

  it('a lost event: the safety kick of the rest finishes the job', async () => {
    const before = pollerReports(q).length;
    const { jobKey, taskId } = await submit('lost', q);
    sim(q).eventFault('lose');
    await finish(taskId, q);
    await done(jobKey, q);
    expect(sim(q).records.events.some((e) => e.taskId === taskId && e.fault === 'lose')).toBe(true);
    expect(pollerReports(q).slice(before).some((r) => r.freed >= 1)).toBe(true);
    expect(eventReports(q).some((r) => r.followed.includes(taskId))).toBe(false);
  });

  it('a duplicated event: the second copy finds no slot holding the task and pays nothing', async () => {
    const { jobKey, taskId } = await submit('duplicate');
    sim().eventFault('duplicate', { delayMs: 60_000 });
    await finish(taskId);
    await done(jobKey);
    const queries = queriesOf(taskId);
    const before = eventReports().length;
    sim().advance(60_000);
    await sim().flush();
    await p.waitFor('the second copy handled', () => eventReports().length > before);
    await p.quiet();
    succeededOnce(jobKey);
    expect(eventReports().slice(before)).toEqual([expect.objectContaining({ followed: [], unknown: [taskId], freed: 0 })]);
    expect(eventReports().slice(before)[0]!.kicked).toBeUndefined();
    expect(queriesOf(taskId)).toBe(queries);
  });

  it('two copies at one instant (one batch, or two invocations at once): one finalization', async () => {
    const { jobKey, taskId } = await submit('twin');
    sim().eventFault('duplicate', { delayMs: 0 });
    await finish(taskId);
    await done(jobKey);
  });

  it('a late event, after the safety kick finished the job: nothing happens', async () => {
    const { jobKey, taskId } = await submit('late', q);
    sim(q).eventFault('late', { delayMs: 3600_000 });
    await finish(taskId, q);
    await done(jobKey, q);
    const before = eventReports(q).length;
    sim(q).advance(3600_000);
    await sim(q).flush();
    await q.waitFor('the late event handled', () => eventReports(q).length > before);
    await q.quiet();
    succeededOnce(jobKey, q);
    expect(eventReports(q).slice(before)).toEqual([expect.objectContaining({ followed: [], unknown: [taskId] })]);
  });

  it('events out of order: the overtaking one finds both tasks ended, the overtaken one nothing', async () => {
    const a = await submit('first');
    const b = await submit('second');
    sim().eventFault('reorder');
    await finish(a.taskId); // its event is held back until the next one goes out
    await finish(b.taskId);
    await done(a.jobKey);
    await done(b.jobKey);
    expect(sim().records.events.filter((e) => e.fault === 'reorder').map((e) => e.taskId)).toContain(a.taskId);
  });

  it('an event for a task we do not know: one read of the slots, no task query, no kick', async () => {
    const before = eventReports().length;
    const requests = p.stack.tablestore.records.length;
    sim().strayEvent({ taskId: `stray-${shape}`, status: 'SUCCEEDED' });
    await p.waitFor('the stray event handled', () => eventReports().length > before);
    await p.quiet();
    expect(eventReports().slice(before)).toEqual([expect.objectContaining({ followed: [], unknown: [`stray-${shape}`], freed: 0, submitted: 0, finalized: 0 })]);
    expect(eventReports().slice(before)[0]!.kicked).toBeUndefined();
    expect(queriesOf(`stray-${shape}`)).toBe(0);
    expect(p.stack.tablestore.records.slice(requests).map((r) => r.operation)).toEqual(['GetRange']);
  });

  it("an event before the create's reply was recorded: not lost, the task is followed once recorded", async () => {
    sim().eventFault('early');
    const jobKey = `sketches/events-${shape}/early-${n++}`;
    await p.put(`${jobKey}.json`, JSON.stringify({ prompt: 'early' }));
    await p.put(`${jobKey}.png`, sketch);
    // The create reached DashScope; its reply waits until the task's event has gone out.
    const taskId = await p.waitFor('the held create', () => sim().records.transitions.find((t) => t.from === null && !sim().records.creates.some((c) => c.taskId === t.taskId))?.taskId);
    const before = eventReports().length;
    await finish(taskId);
    await done(jobKey);
    expect(sim().records.creates.find((c) => c.taskId === taskId)?.fault).toBe('event:early');
    // It found the slot still being recorded, waited for it, and followed the task.
    expect(eventReports().slice(before)).toContainEqual(expect.objectContaining({ followed: [taskId], finalized: 1, waitedMs: expect.any(Number) }));
  });

  it('an event of a model we do not know never reaches the function (the trigger filters)', async () => {
    const before = p.fc.records.length;
    sim().strayEvent({ taskId: `other-${shape}`, model: 'qwen-image' });
    await sim().flush();
    await p.quiet();
    expect(p.fc.records.slice(before).filter((r) => r.fn === POLLER_FUNCTION)).toHaveLength(0);
  });
});
