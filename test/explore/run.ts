/**
 * `npm run explore -- --seeds N [--from K] [--break NAME [--broad]] [--list-breaks] [--seed S] [--workers W] [--trace]`
 *
 * Explores N seeded schedules of the real core over in-memory ports (test/explore/README.md),
 * spread over worker processes, and reports
 * every violated invariant with the first seed that showed it, then replays that seed with its
 * trace. `--seed S` replays one schedule. With `--break NAME` a known bug is put back and the run
 * passes only if it is found; the plans are narrowed to the conditions it needs (breaks.ts
 * `focus`) unless `--broad`, which searches the general mix. Last line: `explored N schedules: V violations`; exit 1 on any
 * (with --break: on none).
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BREAKS, findBreak, type BreakSpec } from './breaks.js';
import { INVARIANTS, type InvariantId, type Violation } from './checks.js';
import { describePlan, runSchedule } from './explore.js';

interface Args {
  seeds: number;
  from: number;
  brk?: string;
  broad: boolean;
  listBreaks: boolean;
  seed?: number;
  workers: number;
  trace: boolean;
  worker?: { offset: number; stride: number };
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1000, from: 1, broad: false, listBreaks: false, workers: availableParallelism(), trace: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a whole number`);
      return n;
    };
    if (a === '--seeds') args.seeds = int();
    else if (a === '--from') args.from = int();
    else if (a === '--break') args.brk = value();
    else if (a === '--broad') args.broad = true;
    else if (a === '--list-breaks') args.listBreaks = true;
    else if (a === '--seed') args.seed = int();
    else if (a === '--workers') args.workers = Math.max(1, int());
    else if (a === '--trace') args.trace = true;
    else if (a === '--worker') args.worker = { offset: int(), stride: int() };
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

interface Found {
  seed: number;
  violations: Violation[];
}

type WorkerLine = { found: Found } | { done: number; steps: number };

/** Runs the seeds in this process, reporting each violating one. */
async function runSeeds(seeds: number[], brk: BreakSpec | undefined, broad: boolean, emit: (line: WorkerLine) => void, stopOnFind: boolean): Promise<void> {
  for (const seed of seeds) {
    const r = await runSchedule(seed, brk ? { brk, broad } : {});
    if (r.violations.length > 0) emit({ found: { seed, violations: r.violations } });
    // One line per schedule: a worker stopped early (--break) leaves an exact count.
    emit({ done: 1, steps: r.steps });
    if (stopOnFind && brk && findsBreak(brk, r.violations)) break;
  }
}

/** A schedule finds a break when it violates one of the invariants that bug breaks. */
function findsBreak(brk: BreakSpec, violations: Violation[]): boolean {
  return violations.some((v) => brk.breaks.includes(v.invariant));
}

function seedList(from: number, count: number, offset = 0, stride = 1): number[] {
  const out: number[] = [];
  for (let s = from + offset; s < from + count; s += stride) out.push(s);
  return out;
}

/**
 * The worker program: this file bundled once with esbuild (no per-function wrappers, no loader
 * hooks: about a tenth faster than through tsx), or this file through tsx if esbuild is missing.
 */
async function workerCommand(): Promise<string[]> {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.mjs')) return [self];
  const root = path.resolve(path.dirname(self), '../..');
  try {
    const esbuild = await import('esbuild');
    // Inside the repository, so the bundle's bare imports (zod, undici) resolve to node_modules.
    const outfile = path.join(root, 'node_modules/.cache/sketchflow-explore/run.mjs');
    await esbuild.build({ entryPoints: [self], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
    return [outfile];
  } catch {
    return [path.join(root, 'bin/run-ts.mjs'), self];
  }
}

/** Spreads the seeds over `workers` child processes (interleaved, so each sees every kind). */
async function runWorkers(args: Args, onLine: (line: WorkerLine, stopAll: () => void) => void): Promise<void> {
  const command = await workerCommand();
  const children = Array.from({ length: args.workers }, (_, i) =>
    spawn(
      process.execPath,
      [...command, '--worker', String(i), String(args.workers), '--from', String(args.from), '--seeds', String(args.seeds), ...(args.brk ? ['--break', args.brk] : []), ...(args.broad ? ['--broad'] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill();
  };
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: child.stdout! });
          lines.on('line', (text) => {
            if (text.startsWith('{')) onLine(JSON.parse(text) as WorkerLine, stopAll);
          });
          child.on('close', () => resolve());
        }),
    ),
  );
}

function printTrace(lines: string[] | undefined, full: boolean): void {
  if (!lines) return;
  const cap = 500;
  const shown = full || lines.length <= cap ? lines : lines.slice(-cap);
  if (shown.length < lines.length) console.log(`  … ${lines.length - shown.length} earlier lines (--seed S --trace shows all)`);
  for (const l of shown) console.log(`  ${l}`);
}

async function replay(seed: number, brk: BreakSpec | undefined, broad: boolean, trace: boolean): Promise<Violation[]> {
  const r = await runSchedule(seed, { trace: trace ? 'full' : true, ...(brk ? { brk, broad } : {}) });
  console.log(`seed ${seed}: ${r.steps} steps, ${(r.virtualMs / 1000).toFixed(1)} s virtual, ${r.creates} creates, at most ${r.maxLive} live`);
  for (const l of describePlan(r.plan)) console.log(`  ${l}`);
  console.log('trace:');
  printTrace(r.trace, trace);
  for (const v of r.violations) console.log(`VIOLATION [${v.invariant}] at +${(v.at / 1000).toFixed(3)}s step ${v.step}: ${v.message}`);
  return r.violations;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.listBreaks) {
    for (const b of BREAKS) {
      console.log(`${b.name.padEnd(28)} ${b.run}: ${b.description} (breaks ${b.breaks.join(', ')})`);
      if (!b.apply) console.log(`${''.padEnd(29)}not applicable yet: needs ${b.needs}`);
    }
    return 0;
  }
  const brk = args.brk === undefined ? undefined : findBreak(args.brk);
  if (args.brk !== undefined && !brk) throw new Error(`no break named ${args.brk} (see --list-breaks)`);
  if (brk && !brk.apply) {
    console.error(`break ${brk.name} cannot be applied yet: it needs ${brk.needs}`);
    return 2;
  }
  if (args.worker) {
    // Nobody reads the stacks of the core's many expected errors (lost races, injected faults).
    Error.stackTraceLimit = 0;
    const seeds = seedList(args.from, args.seeds, args.worker.offset, args.worker.stride);
    await runSeeds(seeds, brk, args.broad, (line) => process.stdout.write(`${JSON.stringify(line)}\n`), Boolean(brk));
    return 0;
  }
  if (args.seed !== undefined) {
    const violations = await replay(args.seed, brk, args.broad, args.trace);
    console.log(`explored 1 schedules: ${violations.length > 0 ? 1 : 0} violations`);
    if (brk) return findsBreak(brk, violations) ? 0 : 1;
    return violations.length > 0 ? 1 : 0;
  }

  const started = performance.now();
  let explored = 0;
  let steps = 0;
  const found: Found[] = [];
  const onLine = (line: WorkerLine, stopAll: () => void) => {
    if ('found' in line) {
      found.push(line.found);
      if (brk && findsBreak(brk, line.found.violations)) stopAll();
    } else {
      explored += line.done;
      steps += line.steps;
    }
  };
  if (args.workers === 1) await runSeeds(seedList(args.from, args.seeds), brk, args.broad, (l) => onLine(l, () => {}), Boolean(brk));
  else await runWorkers(args, onLine);
  const seconds = (performance.now() - started) / 1000;

  found.sort((a, b) => a.seed - b.seed);
  const byInvariant = new Map<InvariantId, Found[]>();
  for (const f of found) for (const v of f.violations) byInvariant.set(v.invariant, [...(byInvariant.get(v.invariant) ?? []), f]);
  console.log(`${explored} schedules in ${seconds.toFixed(1)} s (${(explored / seconds).toFixed(0)}/s, ${args.workers} worker(s), ${steps} steps outside violating schedules)`);
  for (const [id, what] of INVARIANTS) {
    const list = byInvariant.get(id);
    if (!list) continue;
    const first = list[0]!;
    const v = first.violations.find((x) => x.invariant === id)!;
    console.log(`${id}: ${list.length} schedule(s) — ${what}\n  first: seed ${first.seed}: ${v.message}`);
  }
  const finding = brk ? found.find((f) => findsBreak(brk, f.violations)) : found[0];
  if (brk) console.log(finding ? `break ${brk.name} (${brk.run}) found by seed ${finding.seed}` : `break ${brk.name} (${brk.run}) NOT found in ${explored} schedules`);
  if (finding) {
    console.log(`replaying seed ${finding.seed}:`);
    await replay(finding.seed, brk, args.broad, false);
  }
  console.log(`explored ${explored} schedules: ${found.length} violations`);
  if (brk) return finding ? 0 : 1;
  return found.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
