/**
 * Figures 2 and 3, in real (unscaled) time: wall-clock seconds as on the platform, our processing
 * included, so they carry this machine's noise (the virtual backlog run reports the scheduling
 * part alone as a cross-check).
 *
 * 2. Result latency: a small backlog with DashScope at timeScale 1 and short tasks (2 s ± 25 %,
 *    still as long as the default POLL_INTERVAL_SECONDS=2); from the simulator's task end
 *    (`records.busy[].realEnd`) to the manifest's PutObject arriving at the OSS emulator. With
 *    the completion events (the figure: the event arrives at the task's end, through the local
 *    EventBridge trigger) and, as the baseline, without them (TASK_EVENTS=off: polled).
 * 3. Submit latency: one upload at a time into free slots (MAX_IN_FLIGHT=16), each event handled
 *    alone; from the event's delivery to the handler to the create request reaching DashScope, and
 *    the handler's whole run. Uploads are paced under DashScope's 2 creates/s. A warm-up upload (no prompt: no slot, no task) builds the instance's
 *    clients first, as a warm FC instance has them.
 */
import { manifestKey } from '../lib/contract/keys.js';
import { lineSketch, percentile, startBenchPipeline } from './harness.js';

export interface ResultLatency {
  /** Completion events on (the poller rests and the event finalizes), or off (polled). */
  events: boolean;
  jobs: number;
  taskSeconds: number;
  pollIntervalSeconds: number;
  p50S: number;
  p95S: number;
  maxS: number;
  samplesS: number[];
}

export async function measureResultLatency(o: { jobs: number; taskSeconds: number; pollIntervalSeconds: number; events: boolean }): Promise<ResultLatency> {
  const p = await startBenchPipeline({
    kick: true,
    timeScale: 1,
    taskSeconds: o.taskSeconds,
    timerEveryMs: 60_000,
    dashscope: { seed: 5 },
    events: o.events ? { shape: 'cloudevent' } : false,
    env: {
      LOG_LEVEL: 'info',
      TASK_EVENTS: o.events ? 'on' : 'off',
      POLL_INTERVAL_SECONDS: String(o.pollIntervalSeconds),
      ...(o.pollIntervalSeconds < 2 ? { POLL_BUDGET_SECONDS: String(Math.max(5, o.pollIntervalSeconds * 25)) } : {}),
    },
  });
  try {
    const names = Array.from({ length: o.jobs }, (_, i) => `sketches/latency/l${i}`);
    await Promise.all(names.map((n, i) => p.put(`${n}.json`, JSON.stringify({ prompt: `latency ${i}` }))));
    const sketches = await Promise.all(names.map((_, i) => lineSketch(512, i)));
    await Promise.all(names.map((n, i) => p.put(`${n}.png`, sketches[i]!)));
    const deadline = Date.now() + (o.jobs * o.taskSeconds * 1.5 + 30) * 1000;
    while (names.some((n) => !p.stack.oss.peek(manifestKey(n)))) {
      if (Date.now() > deadline) throw new Error(`result latency: manifests missing after the deadline\n${p.logs.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // quiet, not idle: with events on, a resting poller's deferred safety kick stays pending.
    await p.fc.quiet();
    const sim = p.stack.dashscope;
    const samples: number[] = [];
    for (const n of names) {
      const m = JSON.parse(p.stack.oss.peek(manifestKey(n))!.body.toString('utf8')) as { status: string; task?: { id?: string } };
      if (m.status !== 'SUCCEEDED') throw new Error(`result latency: ${n} ended ${m.status}`);
      const busy = sim.records.busy.find((b) => b.taskId === m.task?.id);
      const put = p.stack.oss.records.find((r) => r.action === 'oss:PutObject' && r.key === manifestKey(n) && r.status === 200);
      if (!busy?.realEnd || !put) throw new Error(`result latency: no task end or manifest write recorded for ${n}`);
      samples.push((put.at - busy.realEnd) / 1000);
    }
    return {
      events: o.events,
      jobs: o.jobs,
      taskSeconds: o.taskSeconds,
      pollIntervalSeconds: o.pollIntervalSeconds,
      p50S: percentile(samples, 50),
      p95S: percentile(samples, 95),
      maxS: Math.max(...samples),
      samplesS: samples,
    };
  } finally {
    await p.close();
  }
}

export interface SubmitLatency {
  submissions: number;
  toTaskCreatedMs: { p50: number; p95: number; max: number };
  handlerMs: { p50: number; p95: number; max: number };
  /** The sidecar's own event (its sketch not there yet: nothing to do but look). */
  sidecarHandlerMs: { p50: number; p95: number };
}

export async function measureSubmitLatency(o: { submissions: number }): Promise<SubmitLatency> {
  const p = await startBenchPipeline({
    kick: true,
    runKicks: false, // sent through the FC API as in production, to a function that does nothing
    timeScale: 1e6, // tasks never end; they just queue at DashScope
    dashscope: { seed: 3 },
    oss: { triggerDelayMs: 1 },
    env: { LOG_LEVEL: 'info', MAX_IN_FLIGHT: '16' },
  });
  const settle = async () => {
    await p.stack.oss.settled();
    await p.fc.idle();
  };
  try {
    const submissions = Math.min(16, o.submissions);
    await p.put('sketches/submit/warm-up.png', await lineSketch(512, 99));
    await settle();
    const toCreate: number[] = [];
    const handler: number[] = [];
    const sidecar: number[] = [];
    let lastCreate = 0;
    for (let i = 0; i < submissions; i++) {
      const key = `sketches/submit/s${i}`;
      const before = p.invocations.length;
      await p.put(`${key}.json`, JSON.stringify({ prompt: `submit ${i}` }));
      await settle();
      const sketch = await lineSketch(512, i);
      // DashScope takes 2 creates a second: one upload every 510 ms stays under it (a burst is
      // the backlog case, figure 1), so each measurement is a create that goes through.
      await new Promise((r) => setTimeout(r, Math.max(0, lastCreate + 510 - Date.now())));
      await p.put(`${key}.png`, sketch);
      await settle();
      const [side, main] = p.invocations.slice(before);
      const create = p.stack.dashscope.records.creates.find((c) => c.sketchPath === `/${key}.png` && c.taskId);
      if (!side || !main || !create) throw new Error(`submit latency: ${key} was not submitted (${p.invocations.length - before} invocation(s))\n${p.logs.slice(-10).join('\n')}`);
      lastCreate = create.realAt;
      toCreate.push(create.realAt - main.startedAtMs);
      handler.push(main.realEnd! - main.realStart);
      sidecar.push(side.realEnd! - side.realStart);
    }
    const stats = (v: number[]) => ({ p50: percentile(v, 50), p95: percentile(v, 95), max: Math.max(...v) });
    return { submissions, toTaskCreatedMs: stats(toCreate), handlerMs: stats(handler), sidecarHandlerMs: { p50: percentile(sidecar, 50), p95: percentile(sidecar, 95) } };
  } finally {
    await p.close();
  }
}
