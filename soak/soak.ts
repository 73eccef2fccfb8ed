/**
 * A seeded soak run (issue 8): plan from the seed, run it against the local pipeline, check every
 * invariant, report. `runSoak` is what `npm run soak` and the CI test call.
 */
import { check, historyOf, type Finding, type Summary } from './checks.js';
import { runPlan, TIME, type BreakMode } from './harness.js';
import { makePlan } from './plan.js';
import { formatFailure, formatTable } from './report.js';

export interface SoakOptions {
  seed: number;
  sketches: number;
  /** Length of the mixed phase in minutes (default: 200 ms per sketch, at least 5 s). */
  minutes?: number;
  /** A deliberately broken build, to show that the soak notices (test-only). */
  break?: BreakMode;
  /** Input classes to leave out, e.g. 'dot-segments'. */
  exclude?: string[];
  /** Scales the number of faults (1 = default). */
  intensity?: number;
  /** Progress lines while running (the CLI prints them to stderr). */
  progress?: (line: string) => void;
  /** Write the pipeline's log lines (JSON lines) to this file. */
  logFile?: string;
}

export interface SoakResult {
  summary: Summary;
  findings: Finding[];
  table: string;
  /** Empty when every invariant holds. */
  failure: string;
  exitStatus: 0 | 1;
}

export function reproduceCommand(o: SoakOptions): string {
  return [
    `npm run soak -- --seed ${o.seed} --sketches ${o.sketches}`,
    o.minutes !== undefined ? `--minutes ${o.minutes}` : '',
    o.break ? `--break ${o.break}` : '',
    o.exclude?.length ? `--exclude ${o.exclude.join(',')}` : '',
    o.intensity !== undefined && o.intensity !== 1 ? `--intensity ${o.intensity}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const mixMs = options.minutes !== undefined ? Math.round(options.minutes * 60_000) : Math.max(5000, options.sketches * 200);
  const plan = await makePlan({ seed: options.seed, sketches: options.sketches, mixMs, exclude: options.exclude, intensity: options.intensity });
  options.progress?.(`soak: seed ${plan.seed}, ${plan.jobs.length} sketches, ${plan.actions.length} planned actions over ${(mixMs / 1000).toFixed(0)} s`);
  const out = await runPlan(plan, { progress: options.progress, breakMode: options.break, logFile: options.logFile });
  const { summary, findings } = check(plan, out, {
    maxInFlight: Number(TIME.env.MAX_IN_FLIGHT),
    maxAttempts: Number(TIME.env.MAX_ATTEMPTS),
    ...(options.break ? { breakMode: options.break } : {}),
  });
  const firstBroken = summary.broken[0];
  const firstJob = findings.find((f) => f.invariant === firstBroken)?.jobKey;
  const failure = formatFailure(summary, findings, historyOf(firstJob, plan, out), reproduceCommand(options));
  return { summary, findings, table: formatTable(summary), failure, exitStatus: summary.exitStatus };
}
