/**
 * `sketchflow backfill PREFIX [--dir DIR]` (SPEC §7): queue the sketches under PREFIX that have no
 * manifest (e.g. uploaded before the pipeline was deployed, or while it was down). With `--dir`
 * and no `sketchflow local` running on the folder, they are run to the end here.
 */
import { isTerminal, type JobState } from '../core/records.js';
import { bucketOf, isFinished } from '../local/progress.js';
import { parse, UsageError, type Command } from './io.js';
import { openTarget } from './target.js';
import { noExtraArgs } from './terminal.js';

const USAGE = 'sketchflow backfill PREFIX [--dir DIR]';

export const backfill: Command = async (args, io) => {
  const { values, positionals } = parse(args, { dir: { type: 'string' } });
  noExtraArgs(positionals, 1, USAGE);
  const prefix = positionals[0]?.replace(/^\/+/, '');
  if (prefix === undefined) throw new UsageError(`which prefix? e.g. sketches/ (usage: ${USAGE})`);
  const target = await openTarget(io, { writes: true, ...(values.dir !== undefined ? { dir: values.dir } : {}) });
  try {
    io.stdout(`backfill ${prefix || '(whole bucket)'} (${target.where})\n`);
    const report = await target.backfill(prefix);
    const queued = report.outcomes.filter((o) => o.jobKey && o.state && !isTerminal(o.state as JobState));
    io.stdout(
      `${report.sketches} sketch${report.sketches === 1 ? '' : 'es'}, ${report.alreadyDone} already ha${report.alreadyDone === 1 ? 's' : 've'} a manifest, ${queued.length} queued\n`,
    );
    for (const o of report.outcomes) io.stdout(`  ${o.jobKey ?? o.key}  ${o.state ?? o.action}${o.detail ? ` (${o.detail})` : ''}\n`);
    const failedNow = report.outcomes.some((o) => o.state && bucketOf(o.state) === 'failed');
    if (!target.follow) {
      if (queued.length) io.stdout('the pipeline picks them up (sketchflow status to follow)\n');
      return failedNow ? 1 : 0;
    }
    const jobs = report.outcomes.filter((o) => o.jobKey && o.state).map((o) => ({ jobKey: o.jobKey!, state: o.state! }));
    const final = await target.follow(jobs);
    for (const [jobKey, f] of final) {
      if (f.waitingFor) io.stdout(`${jobKey} stays QUEUED: ${f.waitingFor} (the next sketchflow local on this folder continues)\n`);
    }
    return [...final.values()].some((f) => bucketOf(f.state) === 'failed' || (!isFinished(f.state) && !f.waitingFor)) ? 1 : 0;
  } finally {
    await target.close();
  }
};
