/**
 * Figures 5 and 6, on the built bundles (`buildFunctions` into a temporary folder, as deployed).
 *
 * 5. Memory: each invocation in a fresh `node` (lib/local/fc-instance.cjs) against the emulators running here:
 *    the submit of a sketch just under the 20 MB limit (its sidecar asks for n: 4; the sketch is
 *    too big for DashScope, so OSS image processing serves it a normalized view), then — once the
 *    simulator has finished that task — the poller pass that streams its 4 results into the bucket
 *    and writes the manifest. Peak RSS is the process's high-water mark, module loading included.
 * 6. Bundles (issue 17): the bytes of each code folder, every file counted, and its load in a fresh
 *    node against bare node's start, side by side: each of N rounds runs `node -e ''`, then for
 *    each function `node -e "require('./<fn>')"` (the folder: what an instance loads before its
 *    first event) and the same plus every SDK file of the folder (all a sketch event may load), so
 *    all series see the same machine. Medians of the process time (spawn to exit) make the ratio
 *    to bare node; the require's own wall and CPU time (which a busy machine disturbs least) are
 *    read inside the process and written to fd 3, so the timed command is the bare one otherwise.
 */
import { fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { BUNDLE_LIMIT_BYTES, buildFunctions, SDK_FILES, type BundleReport } from '../scripts/build.js';
import { ensureTable } from '../lib/adapters/tablestore.js';
import { manifestKey } from '../lib/contract/keys.js';
import { timerEvent } from '../lib/local/fc.js';
import { POLLER_FUNCTION, SUBMIT_FUNCTION } from '../lib/local/pipeline.js';
import { settingsFor, startLocalStack } from '../lib/local/stack.js';
import { median } from './harness.js';

const INSTANCE = path.join(import.meta.dirname, '../lib/local/fc-instance.cjs');
const MIB = 1024 * 1024;

export interface Bundles {
  dir: string;
  reports: BundleReport[];
  cleanup(): Promise<void>;
}

export async function buildBundles(): Promise<Bundles> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sketchflow-bench-'));
  const reports = await buildFunctions(dir);
  return { dir, reports, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

interface ChildReport {
  ok: boolean;
  result?: unknown;
  error?: string;
  ms: number;
  loadMs: number;
  rssAfterLoad: number;
  sampledPeak: number;
  maxRssKb: number;
}

/** One invocation of `bundle` in a fresh process with the function's environment. */
function invokeFresh(bundle: string, fn: string, env: Record<string, string>, event: Buffer, context: unknown): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = fork(INSTANCE, [path.dirname(bundle), `${path.basename(bundle, '.js')}.handler`], {
      cwd: path.dirname(bundle),
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Only what FC gives an instance: the function's variables and its built-ins (fc.md §1.4).
      env: { ...env, PATH: process.env.PATH ?? '', FC_FUNCTION_NAME: fn, FC_FUNCTION_HANDLER: 'index.handler', FC_REGION: 'cn-beijing', FC_ACCOUNT_ID: '1234567890123456' },
    });
    const output: string[] = [];
    child.stdout!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    let report: ChildReport | undefined;
    let ready: { loadMs: number; rss: number } | undefined;
    child.on('message', (msg: { type?: string; loadMs: number; rss: number } & Omit<ChildReport, 'loadMs' | 'rssAfterLoad'>) => {
      if (msg.type === 'ready') {
        ready = msg;
        child.send({ id: 1, event: event.toString('base64'), context });
      } else {
        report = { ...msg, loadMs: ready!.loadMs, rssAfterLoad: ready!.rss };
        child.disconnect(); // one invocation per fresh instance: it exits
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!report) return reject(new Error(`${fn} instance exited (${code}) without a report\n${output.join('').slice(-2000)}`));
      if (!report.ok) return reject(new Error(`${fn} invocation failed: ${report.error}\n${output.join('').slice(-2000)}`));
      resolve(report);
    });
  });
}

export interface MemoryFigure {
  sketchBytes: number;
  resultBytes: number;
  results: number;
  submit: { peakMiB: number; sampledPeakMiB: number; afterLoadMiB: number; ms: number };
  finalize: { peakMiB: number; sampledPeakMiB: number; afterLoadMiB: number; ms: number };
}

/** A PNG of noise, stored uncompressed: `side`² × 3 bytes and a little more (2640 → 19.95 MiB). */
async function bigSketch(side: number): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#ffffff', noise: { type: 'gaussian', mean: 170, sigma: 40 } } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

export async function measureMemory(bundles: Bundles, o: { sketchSide: number; n: number }): Promise<MemoryFigure> {
  const stack = await startLocalStack({ timeScale: 1e6, dashscope: { seed: 23 } });
  try {
    const d = stack.describe();
    await ensureTable({ endpoint: d.tablestore.endpoint, instance: d.tablestore.instance, table: 'sketchflow_jobs' }, d.tablestore);
    const events: Array<{ key: string; body: Buffer }> = [];
    stack.oss.onObjectCreated({ prefix: 'sketches/' }, (event) => {
      const key = (event.events[0] as { oss: { object: { key: string } } }).oss.object.key;
      events.push({ key, body: Buffer.from(JSON.stringify(event)) });
    });
    const env: Record<string, string> = {
      ...settingsFor(d),
      // One pass: the poller finalizes and stops. No POLLER_FUNCTION_NAME: no kick (see harness.ts).
      POLL_INTERVAL_SECONDS: '2',
      POLL_BUDGET_SECONDS: '1',
      LOG_LEVEL: 'warn',
    };
    const context = (name: string, memory: number) => ({
      requestId: randomUUID(),
      credentials: stack.credentials.issueStsToken(),
      function: { name, handler: 'index.handler', memory, timeout: 60 },
      region: 'cn-beijing',
      accountId: '1234567890123456',
    });
    const sketch = await bigSketch(o.sketchSide);
    stack.oss.putObject('sketches/memory/big.json', JSON.stringify({ prompt: 'a very large drawing', n: o.n }), { contentType: 'application/json' });
    stack.oss.putObject('sketches/memory/big.png', sketch, { contentType: 'image/png' });
    await stack.oss.settled();
    const sketchEvent = events.find((e) => e.key === 'sketches/memory/big.png');
    if (!sketchEvent) throw new Error('memory: no event for the sketch');
    const bundle = (name: string) => path.join(bundles.dir, name, 'index.js');

    const submit = await invokeFresh(bundle('submit'), SUBMIT_FUNCTION, env, sketchEvent.body, context(SUBMIT_FUNCTION, 256));
    const sim = stack.dashscope;
    const created = sim.records.creates.find((c) => c.taskId);
    if (!created?.taskId) throw new Error(`memory: the submit created no task (${JSON.stringify(submit.result)})`);
    await sim.flush();
    const task = sim.task(created.taskId)!;
    sim.advance(Math.max(1, (task.scheduledAt ?? sim.now()) + task.duration - sim.now() + 1));
    await sim.flush();
    if (sim.task(created.taskId)?.status !== 'SUCCEEDED') throw new Error(`memory: the task ended ${sim.task(created.taskId)?.status}`);

    const timer = timerEvent('bench');
    const finalize = await invokeFresh(bundle('poller'), POLLER_FUNCTION, env, timer, context(POLLER_FUNCTION, 256));
    const manifest = stack.oss.peek(manifestKey('sketches/memory/big'));
    const parsed = manifest ? (JSON.parse(manifest.body.toString('utf8')) as { status: string; results: Array<{ bytes?: number }> }) : undefined;
    if (parsed?.status !== 'SUCCEEDED' || parsed.results.length !== o.n) throw new Error(`memory: the poller did not finalize ${o.n} results (${JSON.stringify(parsed ?? finalize.result)})`);
    const figure = (r: ChildReport) => ({ peakMiB: r.maxRssKb / 1024, sampledPeakMiB: r.sampledPeak / MIB, afterLoadMiB: r.rssAfterLoad / MIB, ms: r.ms });
    return {
      sketchBytes: sketch.length,
      resultBytes: parsed.results.reduce((s, r) => s + (r.bytes ?? 0), 0),
      results: parsed.results.length,
      submit: figure(submit),
      finalize: figure(finalize),
    };
  } finally {
    await stack.close();
  }
}

/** Issue 17's targets: every code folder at most 1.5 MiB, its fresh-node load at most 3× bare node. */
export const BUNDLE_TARGETS = { maxBytes: BUNDLE_LIMIT_BYTES, maxLoadRatio: 3 } as const;

export interface LoadTiming {
  /** Wall time of the require()s inside the fresh process. */
  requireMs: number;
  /** CPU time (user + system) of those require()s. */
  requireCpuMs: number;
  /** Spawn to exit. */
  processMs: number;
  /** processMs / bare node's processMs (medians of the same rounds). */
  ratio: number;
}

export interface BundleFigure extends LoadTiming {
  name: string;
  /** The whole code folder. */
  bytes: number;
  files: string[];
  /** The folder plus every SDK file in it: all a sketch event may load (the FC client only for a kick). */
  full: LoadTiming;
}

export interface BundlesFigure {
  bundles: BundleFigure[];
  /** `node -e ''`, spawn to exit, median. */
  bareNodeMs: number;
  runs: number;
  targets: typeof BUNDLE_TARGETS;
}

interface Sample {
  requireMs: number;
  requireCpuMs: number;
  processMs: number;
}

function timeNode(script: string, cwd: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', script], { cwd, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let report = '';
    let errors = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (report += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (errors += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const processMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`node -e failed (${code}): ${errors.slice(-500)}`));
      const figures = report ? (JSON.parse(report) as { requireMs: number; requireCpuMs: number }) : { requireMs: 0, requireCpuMs: 0 };
      resolve({ ...figures, processMs });
    });
  });
}

/** `require` of each module, timed inside the process; the figures go to fd 3, not to stdout. */
const requireScript = (modules: string[]) =>
  `const c=process.cpuUsage(),t=process.hrtime.bigint();${modules.map((m) => `require(${JSON.stringify(m)});`).join('')}` +
  `const u=process.cpuUsage(c);require('fs').writeSync(3,JSON.stringify({requireMs:Number(process.hrtime.bigint()-t)/1e6,requireCpuMs:(u.user+u.system)/1000}))`;

export async function measureBundles(bundles: Bundles, runs: number): Promise<BundlesFigure> {
  const bare: Sample[] = [];
  const load = new Map<string, Sample[]>(bundles.reports.map((r) => [r.name, []]));
  const full = new Map<string, Sample[]>(bundles.reports.map((r) => [r.name, []]));
  for (let i = 0; i < runs; i++) {
    bare.push(await timeNode('', bundles.dir));
    for (const r of bundles.reports) {
      const folder = `./${r.name}`;
      load.get(r.name)!.push(await timeNode(requireScript([folder]), bundles.dir));
      const sdkFiles = r.files.filter((f) => f in SDK_FILES).map((f) => `${folder}/${f}`);
      full.get(r.name)!.push(await timeNode(requireScript([folder, ...sdkFiles]), bundles.dir));
    }
  }
  const bareNodeMs = median(bare.map((s) => s.processMs));
  const summary = (samples: Sample[]): LoadTiming => {
    const processMs = median(samples.map((s) => s.processMs));
    return { requireMs: median(samples.map((s) => s.requireMs)), requireCpuMs: median(samples.map((s) => s.requireCpuMs)), processMs, ratio: processMs / bareNodeMs };
  };
  return {
    bundles: bundles.reports.map((r) => ({ name: r.name, bytes: r.bytes, files: r.files, ...summary(load.get(r.name)!), full: summary(full.get(r.name)!) })),
    bareNodeMs,
    runs,
    targets: BUNDLE_TARGETS,
  };
}

/** Both targets, for every function. */
export function bundlesMeetTargets(f: BundlesFigure): boolean {
  return f.bundles.every((b) => b.bytes <= f.targets.maxBytes && b.ratio <= f.targets.maxLoadRatio);
}
