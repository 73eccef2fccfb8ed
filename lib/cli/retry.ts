/**
 * `sketchflow retry KEY [--dir DIR]` (SPEC §7): process a sketch again, even a finished one (a new
 * version, a new DashScope task, a new manifest; it is billed again). KEY is the sketch's key, its
 * sidecar's, or the job key (`sketches/cat`). With `--dir` and no `sketchflow local` running on
 * the folder, the job is run to the end here; elsewhere the running pipeline picks it up.
 *
 * `sketchflow retry PREFIX --failed [--dir DIR]`: the same for every job under PREFIX whose
 * current version failed (FAILED, PARTIAL, CANCELED) — after an account problem or a bad
 * `_defaults.json` was fixed — one line per job as it goes, then a summary.
 */
import type { RetriedJob, RetryFailedReport } from '../core/operations.js';
import { classifyKey, manifestKey } from '../contract/keys.js';
import { bucketOf, isFinished } from '../local/progress.js';
import { parse, UsageError, type CliIo, type Command } from './io.js';
import { openTarget } from './target.js';
import { noExtraArgs } from './terminal.js';

const USAGE = 'sketchflow retry KEY [--dir DIR] | sketchflow retry PREFIX --failed [--dir DIR]';

export const retry: Command = async (args, io) => {
  const { values, positionals } = parse(args, { dir: { type: 'string' }, failed: { type: 'boolean' } });
  noExtraArgs(positionals, 1, USAGE);
  if (values.failed) return retryFailedUnder(positionals[0], values.dir, io);
  const key = positionals[0]?.trim().replace(/^\/+/, '');
  if (!key) throw new UsageError(`which sketch? (usage: ${USAGE})`);
  const target = await openTarget(io, { writes: true, ...(values.dir !== undefined ? { dir: values.dir } : {}) });
  try {
    const kind = classifyKey(key, target.prefix);
    if (kind.kind === 'ignored' && !key.startsWith(target.prefix)) throw new UsageError(`${key} is ${kind.reason}`);
    io.stdout(`retry ${key} (${target.where})\n`);
    const outcome = await target.retry(key);
    const jobKey = outcome.jobKey ?? key;
    if (outcome.action === 'no-sketch') throw new UsageError(`there is no sketch for ${jobKey} in ${target.where}`);
    io.stdout(`${jobKey}: a new version, ${outcome.state ?? outcome.action}\n`);
    if (!target.follow) {
      io.stdout(`the pipeline picks it up; its new manifest will be ${manifestKey(jobKey)} (sketchflow status ${jobKey} to follow)\n`);
      return outcome.state && bucketOf(outcome.state) === 'failed' ? 1 : 0;
    }
    const final = (await target.follow([{ jobKey, state: outcome.state ?? 'QUEUED' }])).get(jobKey);
    if (final?.waitingFor) {
      io.stdout(`${jobKey} stays QUEUED: ${final.waitingFor} (the next sketchflow local on this folder continues)\n`);
      return 0;
    }
    return final && bucketOf(final.state) === 'done' ? 0 : 1;
  } finally {
    await target.close();
  }
};

/** One line per retried job: what it was, what it is now. */
function jobLine(j: RetriedJob, done: number, total: number): string {
  const now = j.outcome.action === 'no-sketch' ? 'not retried: its sketch is gone' : `${j.state ?? j.outcome.state ?? j.outcome.action}${j.error ? ` (${j.error.code})` : ''}`;
  return `  [${done}/${total}] ${j.jobKey}  ${j.was}${j.code ? ` (${j.code})` : ''} → ${now}\n`;
}

/** Counts of what the retries made, for the summary line. */
function summary(report: RetryFailedReport): { line: string; failedNow: number } {
  const count = (test: (j: RetriedJob) => boolean) => report.jobs.filter(test).length;
  const gone = count((j) => j.outcome.action === 'no-sketch');
  const retried = report.jobs.length - gone;
  const state = (j: RetriedJob) => (j.outcome.action === 'no-sketch' ? undefined : (j.state ?? j.outcome.state));
  const failedAgain = count((j) => state(j) !== undefined && bucketOf(state(j)!) === 'failed');
  const waiting = count((j) => state(j) !== undefined && bucketOf(state(j)!) === 'waiting');
  const done = count((j) => state(j) !== undefined && bucketOf(state(j)!) === 'done');
  const queued = retried - failedAgain - waiting - done;
  const parts = [`${queued} queued or in flight`, ...(done ? [`${done} done`] : []), ...(waiting ? [`${waiting} waiting for a prompt`] : []), `${failedAgain} failed again at once`, ...(gone ? [`${gone} not retried (sketch gone)`] : [])];
  const n = report.jobs.length;
  return { line: `${n} failed job${n === 1 ? '' : 's'} under ${report.prefix || '(whole bucket)'}: ${retried} retried — ${parts.join(', ')}\n`, failedNow: failedAgain + gone };
}

async function retryFailedUnder(prefixArg: string | undefined, dir: string | undefined, io: CliIo): Promise<number> {
  const prefix = prefixArg?.trim().replace(/^\/+/, '');
  if (prefix === undefined) throw new UsageError(`which prefix? e.g. sketches/ (usage: ${USAGE})`);
  const target = await openTarget(io, { writes: true, ...(dir !== undefined ? { dir } : {}) });
  try {
    io.stdout(`retry the failed jobs under ${prefix || '(whole bucket)'} (${target.where})\n`);
    let shown = 0;
    const report = await target.retryFailed(prefix, (j, done, total) => {
      shown++;
      io.stdout(jobLine(j, done, total));
    });
    // Through a running `sketchflow local` the lines come all at once, with the answer.
    for (const [i, j] of report.jobs.entries()) if (i >= shown) io.stdout(jobLine(j, i + 1, report.jobs.length));
    if (report.jobs.length === 0) {
      io.stdout(`no failed job under ${prefix || '(whole bucket)'}\n`);
      return 0;
    }
    const { line, failedNow } = summary(report);
    io.stdout(line);
    const moving = report.jobs.filter((j) => j.outcome.action !== 'no-sketch' && !isFinished(j.state ?? j.outcome.state));
    if (!target.follow) {
      if (moving.length) io.stdout('the pipeline picks them up (sketchflow status to follow)\n');
      return failedNow > 0 ? 1 : 0;
    }
    const final = await target.follow(moving.map((j) => ({ jobKey: j.jobKey, state: j.state ?? j.outcome.state ?? 'QUEUED' })));
    let failed = failedNow;
    for (const [jobKey, f] of final) {
      if (f.waitingFor) io.stdout(`${jobKey} stays QUEUED: ${f.waitingFor} (the next sketchflow local on this folder continues)\n`);
      else if (bucketOf(f.state) === 'failed' || !isFinished(f.state)) failed++;
    }
    const succeeded = [...final.values()].filter((f) => bucketOf(f.state) === 'done').length;
    io.stdout(`after the retry: ${succeeded} succeeded, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await target.close();
  }
}
