/**
 * `sketchflow retry KEY [--dir DIR]` (SPEC §7): process a sketch again, even a finished one (a new
 * version, a new DashScope task, a new manifest; it is billed again). KEY is the sketch's key, its
 * sidecar's, or the job key (`sketches/cat`). With `--dir` and no `sketchflow local` running on
 * the folder, the job is run to the end here; elsewhere the running pipeline picks it up.
 */
import { classifyKey, manifestKey } from '../contract/keys.js';
import { bucketOf } from '../local/progress.js';
import { parse, UsageError, type Command } from './io.js';
import { openTarget } from './target.js';
import { noExtraArgs } from './terminal.js';

const USAGE = 'sketchflow retry KEY [--dir DIR]';

export const retry: Command = async (args, io) => {
  const { values, positionals } = parse(args, { dir: { type: 'string' } });
  noExtraArgs(positionals, 1, USAGE);
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
