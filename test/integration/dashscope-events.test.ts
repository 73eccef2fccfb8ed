/**
 * Completion events (issue 17): the CloudEvent DashScope publishes through EventBridge when a task
 * ends, to a callback and to an HTTP target (retried when it fails), and the event faults: lost,
 * duplicated, late, out of order, for a task no one created, before the create's reply.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator, type TaskFinishEvent } from '../../lib/local/dashscope/index.js';
import { body, client, crossSketch, finish, FROZEN, MODEL, startSketchServer, type SketchServer } from './dashscope-helpers.js';

const BEIJING_SECONDS = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

describe('DashScope simulator: completion events', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let url: string;
  let got: TaskFinishEvent[];
  /** Called with each event as it is delivered (a test's own check). */
  let onDelivered: ((e: TaskFinishEvent) => void) | undefined;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    url = sketches.url('/s.png');
    sim = await startDashScopeSimulator({
      timeScale: FROZEN,
      submitsPerSecond: 1000,
      queriesPerSecond: 1000,
      events: {
        onEvent: (e) => {
          got.push(e);
          onDelivered?.(e);
        },
        accountId: '1098765432101234',
      },
    });
  });
  beforeEach(() => {
    got = [];
    onDelivered = undefined;
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
  });

  const run = async (api = client(sim)) => {
    const id = (await api.create(body(url))).body.output.task_id as string;
    await finish(sim, api, id);
    await sim.flush();
    return id;
  };

  it('a finished task publishes the documented CloudEvent, with no results in it', async () => {
    const id = await run();
    expect(got).toHaveLength(1);
    const e = got[0]!;
    const t = sim.task(id)!;
    expect(e).toEqual({
      specversion: '1.0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      source: 'acs.dashscope',
      type: 'dashscope:System:AsyncTaskFinish',
      time: new Date(t.endAt!).toISOString(),
      datacontenttype: 'application/json;charset=utf-8',
      aliyunaccountid: '1098765432101234',
      aliyunoriginalaccountid: '1098765432101234',
      aliyunpublishtime: expect.stringMatching(/Z$/),
      aliyuneventbusname: 'default',
      aliyunregionid: 'cn-beijing',
      data: {
        task_id: id,
        task_status: 'SUCCEEDED',
        user_api_unique_key: `apikey:v1:aigc:image2image:image-synthesis:${MODEL}`,
        region: 'cn-beijing',
        start_time: expect.stringMatching(BEIJING_SECONDS),
        end_time: expect.stringMatching(BEIJING_SECONDS),
        request_id: t.request && sim.records.creates.find((c) => c.taskId === id)!.requestId,
        api_key_id: sim.apiKeyId,
        contain_result: false,
      },
    });
    expect(sim.records.events.at(-1)).toMatchObject({ taskId: id, delivered: true, eventId: e.id });
  });

  it('FAILED and CANCELED tasks publish too; a lost task publishes nothing', async () => {
    const api = client(sim);
    sim.failTask('InternalError');
    const failed = await run(api);
    const first = (await api.create(body(url))).body.output.task_id as string;
    const second = (await api.create(body(url))).body.output.task_id as string;
    await api.cancel(second);
    sim.loseTask(first);
    await sim.flush();
    expect(got.map((e) => [e.data.task_id, e.data.task_status])).toEqual([
      [failed, 'FAILED'],
      [second, 'CANCELED'],
    ]);
  });

  it('faults: lost, duplicated (same id), late, out of order', async () => {
    sim.eventFault('lose');
    const lost = await run();
    expect(got).toHaveLength(0);
    expect(sim.records.events.at(-1)).toMatchObject({ taskId: lost, delivered: false, fault: 'lose' });

    sim.eventFault('duplicate');
    const dup = await run();
    expect(got.map((e) => e.data.task_id)).toEqual([dup, dup]);
    expect(got[0]!.id).toBe(got[1]!.id);

    got = [];
    sim.eventFault('late', { delayMs: 120_000 });
    const late = await run();
    expect(got).toHaveLength(0);
    // Due 120 s after the task's (logical) end, whatever the clock shows now.
    const due = sim.task(late)!.endAt! + 120_000;
    sim.advance(due - 1 - sim.now());
    await sim.flush();
    expect(got).toHaveLength(0);
    sim.advance(1);
    await sim.flush();
    expect(got.map((e) => e.data.task_id)).toEqual([late]);

    got = [];
    sim.eventFault('reorder');
    const a = await run();
    expect(got).toHaveLength(0); // held back
    const b = await run();
    expect(got.map((e) => e.data.task_id)).toEqual([b, a]);
  });

  it('an event for a task no one created', async () => {
    sim.strayEvent({ taskId: 'never-created', status: 'SUCCEEDED' });
    await sim.flush();
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toMatchObject({ task_id: 'never-created', task_status: 'SUCCEEDED' });
    expect((await client(sim).query('never-created')).body.output.task_status).toBe('UNKNOWN');
    // Out of process too.
    await fetch(`${sim.origin}/__admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'strayEvent' }) });
    await sim.flush();
    expect(got).toHaveLength(2);
    expect(sim.records.events.at(-1)).toMatchObject({ fault: 'stray', delivered: true });
  });

  it('an event that arrives before the create\'s reply', async () => {
    sim.eventFault('early');
    let replied = false;
    let seenBeforeReply: boolean | undefined;
    onDelivered = () => {
      seenBeforeReply = !replied;
    };
    const transitions = sim.records.transitions.length;
    const pending = client(sim)
      .create(body(url))
      .then((r) => {
        replied = true;
        return r;
      });
    // Once the task exists (its reply held back), drive the frozen clock until its event is out.
    // The deadline is only a safety net: the loop ends when the event is out.
    for (const deadline = Date.now() + 20_000; got.length === 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
      await sim.flush();
      if (sim.records.transitions.length > transitions) sim.advance(10_000);
    }
    const reply = await pending;
    expect(got).toHaveLength(1);
    expect(seenBeforeReply).toBe(true);
    expect(reply.status).toBe(200);
    expect(reply.body.output.task_id).toBe(got[0]!.data.task_id);
    expect(sim.records.creates.at(-1)).toMatchObject({ fault: 'event:early', status: 200 });
  });
});

describe('DashScope simulator: events to an HTTP target', () => {
  let sim: DashScopeSimulator;
  let sketches: SketchServer;
  let target: Server;
  let received: Array<{ contentType: string; event: TaskFinishEvent }>;
  let answer = 200;

  beforeAll(async () => {
    sketches = await startSketchServer();
    sketches.put('/s.png', await crossSketch());
    received = [];
    target = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ contentType: String(req.headers['content-type']), event: JSON.parse(Buffer.concat(chunks).toString('utf8')) as TaskFinishEvent });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    sim = await startDashScopeSimulator({ timeScale: FROZEN, submitsPerSecond: 1000, events: { url: `http://127.0.0.1:${port}/dashscope-events` } });
  });
  afterAll(async () => {
    await sim?.close();
    await sketches?.close();
    await new Promise<void>((r) => {
      target.closeAllConnections();
      target.close(() => r());
    });
  });

  it('POSTs the event as JSON; a failing target is retried 3 more times, 10 s apart', async () => {
    const api = client(sim);
    const id = (await api.create(body(sketches.url('/s.png')))).body.output.task_id as string;
    await finish(sim, api, id);
    await sim.flush();
    expect(received).toHaveLength(1);
    expect(received[0]!.contentType).toMatch(/^application\/json/);
    expect(received[0]!.event.data.task_id).toBe(id);

    answer = 500;
    received = [];
    const id2 = (await api.create(body(sketches.url('/s.png')))).body.output.task_id as string;
    await finish(sim, api, id2);
    await sim.flush();
    for (let i = 0; i < 3; i++) {
      sim.advance(10_000);
      await sim.flush();
    }
    expect(received.map((r) => r.event.data.task_id)).toEqual([id2, id2, id2, id2]);
    expect(sim.records.events.filter((e) => e.taskId === id2).map((e) => [e.attempt, e.status, e.delivered])).toEqual([
      [0, 500, false],
      [1, 500, false],
      [2, 500, false],
      [3, 500, false],
    ]);
  });
});
