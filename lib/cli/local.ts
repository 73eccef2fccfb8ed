/**
 * `sketchflow local [--dir DIR] [--once] [--dashscope sim|real] [--task-seconds S]` (SPEC §7;
 * `npm start`): the whole pipeline on this machine, on a bucket folder (default ./local-bucket,
 * seeded with the example sketches on first run). Files copied into DIR/sketches/ become uploads;
 * results appear next to them; progress is shown as it happens and DIR/index.html shows it all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isTerminal, type JobState } from '../core/records.js';
import { backfill } from '../core/operations.js';
import { findRunning } from '../local/control.js';
import { GALLERY_FILE } from '../local/gallery.js';
import { bucketOf, displayPath, failureLine, formatElapsed, isFinished } from '../local/progress.js';
import { seedExamples } from '../local/seed.js';
import { DEFAULT_TASK_SECONDS, localSettings, startLocalSession, type LocalModeOptions, type LocalSession, type SettledJob } from '../local/session.js';
import { manifestKey } from '../contract/keys.js';
import { parse, UsageError, type CliIo, type Command } from './io.js';
import { isTty, noExtraArgs, resolveDir, watchInterrupt } from './terminal.js';

const USAGE = 'sketchflow local [--dir DIR] [--once] [--dashscope sim|real] [--task-seconds S]';
export const DEFAULT_DIR = 'local-bucket';

export const local: Command = async (args, io) => {
  const interrupt = watchInterrupt(io);
  const { values, positionals } = parse(args, {
    dir: { type: 'string' },
    once: { type: 'boolean' },
    dashscope: { type: 'string' },
    'task-seconds': { type: 'string' },
  });
  noExtraArgs(positionals, 0, USAGE);
  const dashscope = values.dashscope ?? 'sim';
  if (dashscope !== 'sim' && dashscope !== 'real') throw new UsageError(`--dashscope must be 'sim' or 'real' (got '${dashscope}')`);
  let taskSeconds: number | undefined;
  if (values['task-seconds'] !== undefined) {
    if (dashscope === 'real') throw new UsageError('--task-seconds is for the simulator; the real model takes the time it takes');
    taskSeconds = Number(values['task-seconds']);
    if (!Number.isFinite(taskSeconds) || taskSeconds <= 0 || taskSeconds > 3600) {
      throw new UsageError(`--task-seconds must be a number of seconds between 0 and 3600 (got '${values['task-seconds']}')`);
    }
  }
  if (dashscope === 'real' && !io.env.DASHSCOPE_API_KEY?.trim()) {
    throw new UsageError('--dashscope real needs a Model Studio API key in DASHSCOPE_API_KEY (https://bailian.console.aliyun.com → API keys)');
  }
  const dir = resolveDir(values.dir, DEFAULT_DIR)!;
  const once = values.once === true;
  // Every setting is checked before the folder is touched (a ConfigError is exit 2).
  const modeOptions: LocalModeOptions = { dir, env: io.env, dashscope, ...(taskSeconds !== undefined ? { taskSeconds } : {}), once };
  const settings = localSettings(modeOptions);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UsageError(`${displayPath(dir)} is not a folder`);
  const running = await findRunning(dir);
  if (running) throw new UsageError(`sketchflow local is already running on ${displayPath(dir)} (pid ${running.info.pid}); use 'sketchflow status --dir ${displayPath(dir)}' to look at it`);

  const seeded = seedExamples(dir, settings.prefix);
  const started = Date.now();
  const session = await startLocalSession({
    ...modeOptions,
    settings,
    stdout: io.stdout,
    stderr: io.stderr,
    tty: isTty(io),
    control: true,
  });
  try {
    const watched = displayPath(path.join(dir, settings.prefix));
    io.stdout(
      [
        `sketchflow local: bucket folder ${displayPath(dir)}/, watching ${watched}/`,
        dashscope === 'sim'
          ? `DashScope: the simulator (tasks take about ${taskSeconds ?? DEFAULT_TASK_SECONDS} s; --dashscope real for the real model)`
          : `DashScope: the real model at ${settings.real!.baseUrl} (sketches go through DashScope's temporary upload)`,
        ...(seeded.length ? [`first run: copied ${seeded.filter((k) => !k.endsWith('.json') && !k.endsWith('.txt')).length} example sketches into ${watched}/`] : []),
        `gallery: ${displayPath(path.join(dir, GALLERY_FILE))}   log: ${displayPath(session.logFile)}`,
        '',
      ].join('\n'),
    );
    // Files already in the folder are not announced by the watcher: queue those without results.
    const report = await backfill(session.deps(), settings.prefix);
    for (const o of report.outcomes) {
      if (o.jobKey && o.state) session.progress.expect(o.jobKey, o.state);
    }
    const toDo = report.outcomes.filter((o) => o.jobKey && o.state && !isTerminal(o.state as JobState)).length;
    session.progress.print(
      `${report.sketches} sketch${report.sketches === 1 ? '' : 'es'} in the folder: ${toDo} to process, ${report.alreadyDone} already ha${report.alreadyDone === 1 ? 's' : 've'} results`,
    );
    session.gallery?.writeNow();
    if (!once) {
      session.progress.print(`drop a sketch and its prompt (cat.png + cat.json or cat.txt) into ${watched}/ — Ctrl-C to stop`);
      await interrupt.done;
      session.progress.print(`stopping… (${session.progress.countsLine()})`);
      await session.close();
      return 0;
    }
    const settled = await session.settle(undefined, interrupt.signal);
    await session.close();
    return summary(io, session, settled, started, interrupt.fired);
  } finally {
    await session.close();
  }
};

/** The end of `--once`: one line per job with its result paths (or its error), then the verdict. */
function summary(io: CliIo, session: LocalSession, settled: SettledJob[], started: number, interrupted: boolean): number {
  const { progress } = session;
  const jobs = [...settled].sort((a, b) => (a.jobKey < b.jobKey ? -1 : 1));
  const lines: string[] = [''];
  let failed = 0;
  let unfinished = 0;
  for (const job of jobs) {
    const name = progress.name(job.jobKey).padEnd(16);
    const manifest = progress.manifest(job.jobKey);
    const { state } = job;
    if (!isFinished(state)) {
      unfinished++;
      lines.push(`  ${name} ${state.padEnd(10)} ${job.waitingFor ? `waiting: ${job.waitingFor}` : 'not finished'}`);
      continue;
    }
    const results = (manifest?.results ?? []).filter((r) => r.key).map((r) => progress.shown(r.key!));
    if (bucketOf(state) === 'failed') {
      failed++;
      lines.push(`  ${name} ${failureLine({ ...job, state }, manifest, progress.shown(manifestKey(job.jobKey))).slice(job.jobKey.length + 1)}`);
    } else {
      lines.push(`  ${name} ${state.padEnd(10)} ${results.join(', ')}`);
    }
  }
  const ok = jobs.length - failed - unfinished;
  lines.push(
    '',
    `${interrupted ? 'interrupted: ' : ''}${jobs.length} job${jobs.length === 1 ? '' : 's'} in ${formatElapsed(Date.now() - started)}: ${ok} succeeded, ${failed} failed${unfinished ? `, ${unfinished} not finished` : ''}`,
    `gallery: ${displayPath(path.join(session.dir, GALLERY_FILE))}`,
    '',
  );
  io.stdout(lines.join('\n'));
  return failed || unfinished ? 1 : 0;
}
