/**
 * `npm run bench` (issue 9): speed and cost figures against the limits that bind us — DashScope's
 * one task at a time, 2 submissions a second, CNY 0.06 an image — side by side with a naive
 * baseline run in the same process. `runBench` is what run.ts and the smoke test call.
 *
 * How each figure is measured, and why that way, is at the top of the module that measures it:
 *   1 backlog.ts (virtual time: virtual-time.ts)   2, 3 latency.ts (real time)
 *   4 reads.ts                                      5, 6 resources.ts (built bundles, fresh node)
 *   7 cost.ts with prices.ts (unit prices and their sources)
 *   8 throughput.ts (virtual time, per model and mixed; issue 16)
 */
import { execSync } from 'node:child_process';
import os from 'node:os';
import { runBacklog, type BacklogRun } from './backlog.js';
import { costPerImage, type CostFigure } from './cost.js';
import { measureResultLatency, measureSubmitLatency, type ResultLatency, type SubmitLatency } from './latency.js';
import { PRICES, PRICES_READ_ON } from './prices.js';
import { measurePollerReads, type PollerReads } from './reads.js';
import { buildBundles, bundlesMeetTargets, measureBundles, measureMemory, type BundlesFigure, type MemoryFigure } from './resources.js';
import { measureThroughput, TASK_SECONDS, throughputLine, type ThroughputRun } from './throughput.js';

export interface BenchOptions {
  /** Sketches dropped at once in the backlog runs (figure 1, and the cost). */
  backlogJobs: number;
  /** Mean simulated DashScope task time in the backlog runs, seconds. */
  taskSeconds: number;
  /** Share of completion events lost in the second backlog run (figure 1). */
  lostEventShare: number;
  latency: { jobs: number; taskSeconds: number; pollIntervalSeconds: number };
  submissions: number;
  reads: { active: number; finished: number[] };
  memory: { sketchSide: number; n: number };
  loadRuns: number;
  /** Sketches per throughput run (figure 8): each model alone, then mixed. */
  throughputJobs: number;
  /** Progress lines (stderr in run.ts). */
  progress?: (line: string) => void;
}

export const FULL: BenchOptions = {
  backlogJobs: 50,
  taskSeconds: 20,
  lostEventShare: 0.2,
  latency: { jobs: 10, taskSeconds: 2, pollIntervalSeconds: 2 },
  submissions: 16,
  reads: { active: 20, finished: [0, 1000, 10000] },
  memory: { sketchSide: 2640, n: 4 },
  loadRuns: 7,
  throughputJobs: 50,
};

/** Seconds, for `npm test`: every figure computed the same way on tiny inputs. */
export const SMOKE: BenchOptions = {
  backlogJobs: 3,
  taskSeconds: 20,
  lostEventShare: 0.2,
  latency: { jobs: 2, taskSeconds: 0.4, pollIntervalSeconds: 0.2 },
  submissions: 2,
  reads: { active: 3, finished: [0, 5, 20] },
  memory: { sketchSide: 600, n: 4 },
  loadRuns: 1,
  throughputJobs: 3,
};

export type Verdict = 'met' | 'MISSED' | 'no target';

export interface BenchResults {
  kind: 'sketchflow-bench';
  version: 1;
  startedAt: string;
  seconds: number;
  machine: { cpus: number; node: string; platform: string; commit?: string };
  options: Omit<BenchOptions, 'progress'>;
  figures: {
    utilization: { ours: number; lostEvents: number; naive: number; target: number; verdict: Verdict; ours_run: BacklogSummary; lost_events_run: BacklogSummary; naive_run: BacklogSummary };
    resultLatency: ResultLatency & { target: number; verdict: Verdict; polled: ResultLatency; schedulingOnly: { ours: BacklogSummary['resultWaitS']; lostEvents: BacklogSummary['resultWaitS']; naive: BacklogSummary['resultWaitS'] } };
    submitLatency: SubmitLatency & { verdict: Verdict };
    pollerReads: PollerReads & { verdict: Verdict };
    memory: MemoryFigure & { limitMiB: number; headroom: number; verdict: Verdict };
    bundles: BundlesFigure & { verdict: Verdict };
    cost: CostFigure & { naive: CostFigure; target: number; verdict: Verdict };
    throughput: ThroughputFigure;
  };
  prices: typeof PRICES;
  pricesReadOn: string;
  table: string;
}

type BacklogSummary = Omit<BacklogRun, 'invocations' | 'tablestore' | 'tablestoreCu' | 'oss' | 'objectBytes'>;

function summary(run: BacklogRun): BacklogSummary {
  const { invocations: _i, tablestore: _t, tablestoreCu: _c, oss: _o, objectBytes: _b, ...rest } = run;
  return rest;
}

export interface ThroughputFigure {
  runs: ThroughputRun[];
  /** The least efficiency (makespan of an idle-free scheduler / ours) of any model in any run. */
  worst: number;
  target: number;
  verdict: Verdict;
  taskSeconds: Readonly<Record<string, number>>;
}

export const THROUGHPUT_TARGET = 0.95;

export function throughputFigure(runs: ThroughputRun[]): ThroughputFigure {
  const worst = Math.min(...runs.flatMap((r) => r.models.map((m) => m.efficiency)));
  return { runs, worst, target: THROUGHPUT_TARGET, verdict: worst >= THROUGHPUT_TARGET ? 'met' : 'MISSED', taskSeconds: TASK_SECONDS };
}

/** Issue 17's targets: slot utilization under backlog (also with events lost), result latency p95 with events, cost beyond the model. */
const UTILIZATION_TARGET = 0.99;
const LATENCY_TARGET_S = 1;
const COST_TARGET_PERCENT = 0.25;
const MEMORY_LIMIT_MIB = 256;
const MEMORY_HEADROOM = 1.5;

export async function runBench(options: BenchOptions = FULL): Promise<BenchResults> {
  const { progress = () => undefined, ...plain } = options;
  const started = Date.now();
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    progress(`${name} …`);
    const out = await run();
    progress(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return out;
  };

  const bundles = await phase('build bundles', () => buildBundles());
  let load: BundlesFigure;
  let memory: MemoryFigure;
  try {
    load = await phase(`6 bundle load (${options.loadRuns}× fresh node each)`, () => measureBundles(bundles, options.loadRuns));
    memory = await phase('5 memory (fresh node per invocation)', () => measureMemory(bundles, options.memory));
  } finally {
    await bundles.cleanup();
  }
  const reads = await phase(`4 poller reads (${options.reads.active} active; ${options.reads.finished.join(' / ')} finished)`, () =>
    measurePollerReads({ active: options.reads.active, finishedCounts: options.reads.finished }),
  );
  const submit = await phase(`3 submit latency (${options.submissions} uploads)`, () => measureSubmitLatency({ submissions: options.submissions }));
  const latency = await phase(`2 result latency (real time, ${options.latency.jobs} jobs, completion events)`, () => measureResultLatency({ ...options.latency, events: true }));
  const polled = await phase(`2 result latency (real time, ${options.latency.jobs} jobs, polled)`, () => measureResultLatency({ ...options.latency, events: false }));
  const ours = await phase(`1 backlog, ours (${options.backlogJobs} jobs, virtual time)`, () => runBacklog('ours', { jobs: options.backlogJobs, taskSeconds: options.taskSeconds }));
  const lossy = await phase(`1 backlog, ours, ${Math.round(options.lostEventShare * 100)} % of the events lost`, () =>
    runBacklog('ours', { jobs: options.backlogJobs, taskSeconds: options.taskSeconds, lostEventShare: options.lostEventShare }),
  );
  const naive = await phase(`1 backlog, naive baseline`, () => runBacklog('naive', { jobs: options.backlogJobs, taskSeconds: options.taskSeconds }));
  const throughput = await phase(`8 throughput (${options.throughputJobs} sketches a run: each model, then mixed; virtual time)`, () => measureThroughput(options.throughputJobs, progress));
  const cost = costPerImage(ours);
  const naiveCost = costPerImage(naive);

  const peak = Math.max(memory.submit.peakMiB, memory.finalize.peakMiB);
  const readsFlat = (['sweepRows', 'waitingPassRows', 'finishingPassRows'] as const).every((k) => new Set(reads.points.map((p) => p[k])).size === 1);
  let commit: string | undefined;
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    commit = undefined;
  }
  const results: BenchResults = {
    kind: 'sketchflow-bench',
    version: 1,
    startedAt: new Date(started).toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}`, ...(commit ? { commit } : {}) },
    options: plain,
    figures: {
      utilization: {
        ours: ours.utilization,
        lostEvents: lossy.utilization,
        naive: naive.utilization,
        target: UTILIZATION_TARGET,
        verdict: Math.min(ours.utilization, lossy.utilization) >= UTILIZATION_TARGET ? 'met' : 'MISSED',
        ours_run: summary(ours),
        lost_events_run: summary(lossy),
        naive_run: summary(naive),
      },
      resultLatency: {
        ...latency,
        target: LATENCY_TARGET_S,
        verdict: latency.p95S <= LATENCY_TARGET_S ? 'met' : 'MISSED',
        polled,
        schedulingOnly: { ours: ours.resultWaitS, lostEvents: lossy.resultWaitS, naive: naive.resultWaitS },
      },
      submitLatency: { ...submit, verdict: 'no target' },
      pollerReads: { ...reads, verdict: readsFlat ? 'met' : 'MISSED' },
      memory: { ...memory, limitMiB: MEMORY_LIMIT_MIB, headroom: MEMORY_LIMIT_MIB / peak, verdict: peak * MEMORY_HEADROOM <= MEMORY_LIMIT_MIB ? 'met' : 'MISSED' },
      bundles: { ...load, verdict: bundlesMeetTargets(load) ? 'met' : 'MISSED' },
      cost: { ...cost, naive: naiveCost, target: COST_TARGET_PERCENT, verdict: cost.percentOfModel <= COST_TARGET_PERCENT ? 'met' : 'MISSED' },
      throughput: throughputFigure(throughput),
    },
    prices: PRICES,
    pricesReadOn: PRICES_READ_ON,
    table: '',
    seconds: (Date.now() - started) / 1000,
  };
  results.table = renderTable(results);
  return results;
}

const s = (x: number, digits = 2) => `${x.toFixed(digits)} s`;
const ms = (x: number) => `${Math.round(x)} ms`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const cny = (x: number) => `CNY ${x.toPrecision(2)}`;

/** The table `npm run bench` prints and the README quotes (Markdown). */
export function renderTable(r: BenchResults): string {
  const f = r.figures;
  const o = r.options;
  const reads = f.pollerReads.points;
  const col = (k: 'sweepRows' | 'waitingPassRows' | 'finishingPassRows') => reads.map((p) => p[k]).join(' / ');
  const top = [...f.cost.lines].sort((a, b) => b.cnyPerImage - a.cnyPerImage);
  const poller = f.cost.lines.find((l) => l.item === 'FC poller time')!;
  const rows: string[][] = [
    [
      '1',
      `Slot utilization, ${o.backlogJobs} sketches dropped at once (${o.taskSeconds} s tasks)`,
      `${f.utilization.ours.toFixed(3)}; ${f.utilization.lostEvents.toFixed(3)} with ${f.utilization.lost_events_run.events.lost} of ${f.utilization.lost_events_run.events.lost + f.utilization.lost_events_run.events.delivered} events lost`,
      `≥ ${f.utilization.target}`,
      `naive baseline ${f.utilization.naive.toFixed(3)} (MAX_IN_FLIGHT=1, one-minute timer only, no events); makespan ${Math.round(f.utilization.ours_run.makespanS)} s vs ${Math.round(f.utilization.naive_run.makespanS)} s; virtual time; at most ${f.utilization.ours_run.maxCreatesPerSimSecond} creates in any simulated second (limit 2)`,
      f.utilization.verdict,
    ],
    [
      '2',
      'Result latency, task end → manifest, on the completion event (real seconds)',
      `p50 ${s(f.resultLatency.p50S)}, p95 ${s(f.resultLatency.p95S)}`,
      `p95 ≤ ${f.resultLatency.target} s`,
      `timeScale 1, ${f.resultLatency.jobs} jobs of ${f.resultLatency.taskSeconds} s; polled instead (TASK_EVENTS=off, POLL_INTERVAL_SECONDS=${f.resultLatency.pollIntervalSeconds}): p50 ${s(f.resultLatency.polled.p50S)}, p95 ${s(f.resultLatency.polled.p95S)}; scheduling wait alone (backlog run): p95 ${s(f.resultLatency.schedulingOnly.ours.p95)}, ${s(f.resultLatency.schedulingOnly.lostEvents.p95)} with events lost, naive ${s(f.resultLatency.schedulingOnly.naive.p95, 0)}`,
      f.resultLatency.verdict,
    ],
    [
      '3',
      'Submit latency, event delivered → DashScope task created',
      `p50 ${ms(f.submitLatency.toTaskCreatedMs.p50)}, p95 ${ms(f.submitLatency.toTaskCreatedMs.p95)}`,
      '— (none set)',
      `whole handler p50 ${ms(f.submitLatency.handlerMs.p50)}, p95 ${ms(f.submitLatency.handlerMs.p95)}; ${f.submitLatency.submissions} uploads, real time, loopback emulators`,
      f.submitLatency.verdict,
    ],
    [
      '4',
      `Poller rows read per pass (polled), ${reads[0]?.active ?? '?'} active, ${reads.map((p) => p.finished).join(' / ')} finished jobs stored`,
      col('waitingPassRows'),
      'the same for all',
      `pass that finishes a task ${col('finishingPassRows')}; once per invocation (lease + sweep) ${col('sweepRows')}`,
      f.pollerReads.verdict,
    ],
    [
      '5',
      `Peak RSS: submit of a ${mib(f.memory.sketchBytes)} sketch / finalize of ${f.memory.results} results (${mib(f.memory.resultBytes)})`,
      `${f.memory.submit.peakMiB.toFixed(0)} MiB / ${f.memory.finalize.peakMiB.toFixed(0)} MiB`,
      `fits ${f.memory.limitMiB} MB with room (× ${MEMORY_HEADROOM})`,
      `fresh node each, bundle loaded: ${f.memory.submit.afterLoadMiB.toFixed(0)} MiB; s.yaml: submit ${f.cost.fc.sizes.submit.memoryMB} MB, poller ${f.cost.fc.sizes.poller.memoryMB} MB`,
      f.memory.verdict,
    ],
    [
      '6',
      'Bundles: code folder size, fresh-node load vs bare node (median)',
      f.bundles.bundles.map((b) => `${b.name} ${mib(b.bytes)}, ${ms(b.processMs)} = ${b.ratio.toFixed(2)}× bare`).join('; '),
      `≤ ${mib(f.bundles.targets.maxBytes)}, ≤ ${f.bundles.targets.maxLoadRatio}× bare`,
      `${f.bundles.runs} round${f.bundles.runs === 1 ? '' : 's'} side by side: bare \`node -e ''\` ${ms(f.bundles.bareNodeMs)} vs \`node -e "require('./<fn>')"\`; the require alone ${f.bundles.bundles.map((b) => `${ms(b.requireMs)} (CPU ${ms(b.requireCpuMs)})`).join(' / ')}; with every SDK file (all a sketch may load) ${f.bundles.bundles.map((b) => `${ms(b.full.processMs)} = ${b.full.ratio.toFixed(2)}×`).join(' / ')}`,
      f.bundles.verdict,
    ],
    [
      '7',
      'Cost per image beyond the model (CNY 0.06)',
      `${cny(f.cost.totalCnyPerImage)} = ${f.cost.percentOfModel.toFixed(2)} %`,
      `≤ ${f.cost.target} %`,
      `Tablestore ${f.cost.tablestore.requestsPerImage.toFixed(0)} requests/image (${f.cost.tablestore.readCuPerImage.toFixed(0)} read CU, ${f.cost.tablestore.writeCuPerImage.toFixed(0)} write CU); largest: ${top
        .slice(0, 3)
        .map((l) => `${l.item} ${cny(l.cnyPerImage)}`)
        .join(', ')}; poller ${poller.quantityPerImage.toFixed(1)} s/image; naive baseline ${f.cost.naive.percentOfModel.toFixed(2)} %`,
      f.cost.verdict,
    ],
  ];
  rows.push(throughputRow(f.throughput, o.throughputJobs));
  const header = ['#', 'Figure', 'Measured', 'Target', 'Baseline / how', 'Verdict'];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Row 8: images an hour per model against its own limit, alone and mixed. */
export function throughputRow(t: ThroughputFigure, jobs: number): string[] {
  const alone = t.runs.filter((r) => r.name !== 'mix');
  const mix = t.runs.find((r) => r.name === 'mix');
  return [
    '8',
    `Throughput, ${jobs} sketches dropped at once: each model alone, then mixed (images/h of the model's limit, concurrency × 3600 / mean task time)`,
    alone.map(throughputLine).join('; '),
    `≥ ${t.target} of an idle-free scheduler's makespan, every model`,
    `mixed (${mix?.models.map((m) => m.jobs).join('/') ?? '?'}): ${mix ? throughputLine(mix) : '?'}; worst ${t.worst.toFixed(3)}; tasks ${Object.entries(t.taskSeconds)
      .map(([m, s]) => `${m} ${s} s`)
      .join(', ')} ±25 %; in flight at most ${t.runs.flatMap((r) => r.models.map((m) => `${m.maxInFlight}/${m.inFlightBound}`)).join(' ')}; creates in any simulated second at most ${Math.max(...t.runs.flatMap((r) => r.models.map((m) => m.maxCreatesPerSimSecond)))}; virtual time`,
    t.verdict,
  ];
}

/** Figure 8 alone (`npm run bench -- --only throughput`), as a table of its own. */
export async function runThroughputOnly(jobs: number, progress: (line: string) => void = () => undefined): Promise<{ figure: ThroughputFigure; table: string }> {
  const figure = throughputFigure(await measureThroughput(jobs, progress));
  const header = ['run', 'model', 'sketches', 'images/h', 'limit/h', 'makespan s', 'idle-free s', 'efficiency', 'in flight (bound)', 'creates/s (limit)'];
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const rows = figure.runs.flatMap((r) =>
    r.models.map((m) => [r.name, m.model, m.jobs, Math.round(m.imagesPerHour), Math.round(m.limitPerHour), m.makespanS.toFixed(0), m.idleFreeMakespanS.toFixed(0), m.efficiency.toFixed(3), `${m.maxInFlight} (${m.inFlightBound})`, `${m.maxCreatesPerSimSecond} (${m.createsPerSecondLimit})`]),
  );
  return { figure, table: [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') };
}
