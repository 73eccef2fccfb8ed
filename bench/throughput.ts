/**
 * Figure 8 (issue 16): throughput per model. A backlog of sketches dropped at once, each naming
 * its model, run to the last manifest in virtual time (virtual-time.ts, as figure 1): once per
 * model on its own, and once as a mix of all of them. For each model: images an hour, against the
 * most that model can make — its concurrency × 3600 / the mean task time of the run — and the
 * ratio (the busy time of its DashScope slots, the simulator's `records.busy`, over concurrency ×
 * its makespan: from the drop to the end of its last task). In the mix each model is measured
 * against its own limit, so a model starved by another's backlog would show at once.
 *
 * Task times are the simulator's, per model (models.md: doodle "about 5–15 s", wan2.5 "1–2
 * minutes"; the sketch model about 20 s), ±25 % seeded jitter.
 */
import { manifestKey } from '../lib/contract/keys.js';
import { ManifestSchema } from '../lib/contract/manifest.js';
import { timerEvent } from '../lib/local/fc.js';
import { POLLER_FUNCTION } from '../lib/local/pipeline.js';
import { inFlightLimit, MODEL_NAMES, modelSpec } from '../lib/models/index.js';
import { lineSketch, startBenchPipeline } from './harness.js';
import { quiescent, runVirtual, VirtualClock } from './virtual-time.js';

/** Mean simulated task seconds per model in these runs. */
export const TASK_SECONDS: Readonly<Record<string, number>> = {
  'wanx-sketch-to-image-lite': 20,
  'wanx2.1-imageedit': 10,
  'wan2.5-i2i-preview': 90,
};

export interface ModelThroughput {
  model: string;
  jobs: number;
  images: number;
  /** Drop → end of the model's last task, simulated seconds. */
  makespanS: number;
  imagesPerHour: number;
  /** concurrency × 3600 / mean task time (this run's tasks of the model). */
  limitPerHour: number;
  /** Busy time of the model's slots over concurrency × makespan (below 1 by the tail of a small backlog alone). */
  utilization: number;
  /**
   * The makespan of a scheduler that never leaves one of the model's slots idle: the same tasks,
   * in the order they were created, each started the moment a slot frees up (simulated seconds).
   */
  idleFreeMakespanS: number;
  /** idleFreeMakespanS / makespanS: 1 = as fast as these tasks could have run. */
  efficiency: number;
  concurrency: number;
  /** The pipeline's bound for the model (inFlightLimit at MAX_IN_FLIGHT=2) and the most seen at once. */
  inFlightBound: number;
  maxInFlight: number;
  /** Creates accepted in any one simulated second, against the model's limit. */
  maxCreatesPerSimSecond: number;
  createsPerSecondLimit: number;
}

export interface ThroughputRun {
  name: string;
  jobs: number;
  models: ModelThroughput[];
  virtualSteps: number;
  realSeconds: number;
}

/** `durations` (in order) on `slots` machines, each task on the first to free up: the makespan. */
export function idleFreeMakespan(durations: number[], slots: number): number {
  const free = Array<number>(slots).fill(0);
  for (const d of durations) {
    const i = free.indexOf(Math.min(...free));
    free[i] = free[i]! + d;
  }
  return Math.max(...free);
}

function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

/** Runs `models[i % models.length]` for each of `jobs` sketches; `name` labels the run. */
export async function runThroughput(name: string, models: readonly string[], jobs: number, seed = 23): Promise<ThroughputRun> {
  const realStart = Date.now();
  const v0 = Math.floor(Date.now() / 1000) * 1000;
  const clock = new VirtualClock(v0);
  const p = await startBenchPipeline({
    clock,
    kick: true,
    timeScale: 1e6,
    dashscope: { seed, startTime: v0, rateWindowMs: 1, modelTaskSeconds: { ...TASK_SECONDS } },
    oss: { triggerDelayMs: 1 },
    env: { LOG_LEVEL: 'info', MAX_IN_FLIGHT: '2', POLL_INTERVAL_SECONDS: '2', POLL_BUDGET_SECONDS: '50' },
  });
  const sim = p.stack.dashscope;
  const world = { clock, fc: p.fc, oss: p.stack.oss, sim };
  try {
    const names = Array.from({ length: jobs }, (_, i) => ({ key: `sketches/throughput/s${String(i).padStart(3, '0')}`, model: models[i % models.length]! }));
    const sketch = await lineSketch(640, 1);
    const realDeadline = Date.now() + 120_000;
    for (const [i, n] of names.entries()) {
      await p.put(`${n.key}.json`, JSON.stringify({ model: n.model, prompt: `a house and the sun, number ${i}` }));
      await quiescent(world, realDeadline);
      await p.put(`${n.key}.png`, sketch);
      await quiescent(world, realDeadline);
    }
    const done = () => names.every((n) => p.stack.oss.peek(manifestKey(n.key))) && p.fc.busy === 0;
    const slowest = Math.max(...models.map((m) => (TASK_SECONDS[m] ?? 20) / modelSpec(m).limits.concurrency));
    const { steps } = await runVirtual(world, {
      done,
      timer: { everyMs: 60_000, next: v0 + 60_000, fire: (at) => p.fc.invokeAsync(POLLER_FUNCTION, timerEvent('timer', at)) },
      maxVirtualMs: (jobs * slowest * 1.25 + 180) * 1000 * 2,
      realTimeoutMs: 300_000,
    });
    for (const n of names) {
      const m = ManifestSchema.parse(JSON.parse(p.stack.oss.peek(manifestKey(n.key))!.body.toString('utf8')));
      if (m.status !== 'SUCCEEDED' || m.request?.model !== n.model) throw new Error(`${name}: ${n.key} ended ${m.status} on ${m.request?.model}: ${JSON.stringify(m.error)}`);
    }

    const modelOfTask = new Map(sim.records.creates.filter((c) => c.taskId).map((c) => [c.taskId!, (c.body as { model: string }).model]));
    const out: ModelThroughput[] = [];
    for (const model of [...new Set(models)]) {
      const spec = modelSpec(model);
      const busy = sim.records.busy.filter((b) => b.apiKeyId === sim.apiKeyId && b.model === model && b.end !== undefined);
      const busyMs = busy.reduce((s, b) => s + (b.end! - b.start), 0);
      const lastEnd = Math.max(...busy.map((b) => b.end!));
      const makespanMs = lastEnd - v0;
      const images = busy.filter((b) => b.outcome === 'SUCCEEDED').length;
      const meanTaskMs = busyMs / busy.length;
      const idleFreeMs = idleFreeMakespan(busy.sort((a, b) => a.start - b.start).map((b) => b.end! - b.start), spec.limits.concurrency);
      // Live tasks of this model over the run, from the task transitions.
      let live = 0;
      let maxLive = 0;
      for (const t of sim.records.transitions) {
        if (modelOfTask.get(t.taskId) !== model) continue;
        if (t.from === null) live++;
        else if ((t.from === 'PENDING' || t.from === 'RUNNING') && t.to !== 'PENDING' && t.to !== 'RUNNING') live--;
        maxLive = Math.max(maxLive, live);
      }
      out.push({
        model,
        jobs: names.filter((n) => n.model === model).length,
        images,
        makespanS: makespanMs / 1000,
        imagesPerHour: (images * 3600_000) / makespanMs,
        limitPerHour: (spec.limits.concurrency * 3600_000) / meanTaskMs,
        utilization: busyMs / (spec.limits.concurrency * makespanMs),
        idleFreeMakespanS: idleFreeMs / 1000,
        efficiency: idleFreeMs / makespanMs,
        concurrency: spec.limits.concurrency,
        inFlightBound: inFlightLimit(spec, 2),
        maxInFlight: maxLive,
        maxCreatesPerSimSecond: maxInWindow(
          sim.records.creates.filter((c) => c.status === 200 && modelOfTask.get(c.taskId ?? '') === model).map((c) => c.at),
          1000,
        ),
        createsPerSecondLimit: spec.limits.createsPerSecond,
      });
    }
    return { name, jobs, models: out, virtualSteps: steps, realSeconds: (Date.now() - realStart) / 1000 };
  } finally {
    await p.close();
  }
}

/** Each model on its own, then all of them mixed (round robin), `jobs` sketches each run. */
export async function measureThroughput(jobs: number, progress: (line: string) => void = () => undefined): Promise<ThroughputRun[]> {
  const runs: ThroughputRun[] = [];
  for (const model of MODEL_NAMES) {
    progress(`8 throughput: ${jobs} × ${model} …`);
    runs.push(await runThroughput(model, [model], jobs));
  }
  progress(`8 throughput: ${jobs} mixed …`);
  runs.push(await runThroughput('mix', MODEL_NAMES, jobs));
  return runs;
}

/** One part per model of a run: `model 171 images/h of its 180 (makespan 0.99 of the idle-free one)`. */
export function throughputLine(run: ThroughputRun): string {
  return run.models.map((m) => `${m.model} ${Math.round(m.imagesPerHour)} images/h of its ${Math.round(m.limitPerHour)} (${m.efficiency.toFixed(3)})`).join('; ');
}
