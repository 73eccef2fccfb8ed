/**
 * Where `status | retry | backfill` act (SPEC §7):
 * - the configured services: settings from the environment (SPEC §6), credentials from
 *   ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN);
 * - `--dir DIR` with a `sketchflow local` running on it: through that process (one owner per folder);
 * - `--dir DIR` otherwise: the local stack started on DIR in this process, closed at the end; work
 *   that a command queues is run to the end here, with progress, before it closes.
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { loadConfig } from '../config.js';
import type { CoreDeps } from '../core/deps.js';
import type { BackfillReport, PipelineStatus, RetriedJob, RetryFailedReport } from '../core/operations.js';
import type { SubmitOutcome } from '../core/submit.js';
import { createRuntime } from '../runtime.js';
import { findRunning } from '../local/control.js';
import { operationsOn, operatorDeps } from '../local/operator.js';
import { displayPath } from '../local/progress.js';
import { startLocalSession, type LocalSession } from '../local/session.js';
import { UsageError, type CliIo } from './io.js';
import { isTty, resolveDir, watchInterrupt } from './terminal.js';

export interface OperatorTarget {
  /** For messages: "the configured services (bucket …)" or "the local bucket folder …". */
  where: string;
  /** SKETCH_PREFIX of the target. */
  prefix: string;
  status(prefix?: string): Promise<PipelineStatus>;
  retry(key: string): Promise<SubmitOutcome>;
  /** `onJob` follows the jobs one by one where this process does the work (not through a running local). */
  retryFailed(prefix: string, onJob?: (job: RetriedJob, done: number, total: number) => void): Promise<RetryFailedReport>;
  backfill(prefix: string): Promise<BackfillReport>;
  /**
   * Only where this process runs the pipeline itself: waits until these jobs finish (showing
   * progress) and returns their final states. Elsewhere a running pipeline picks the work up.
   */
  follow?(jobs: Array<{ jobKey: string; state: string }>): Promise<Map<string, FollowedJob>>;
  close(): Promise<void>;
}

export interface FollowedJob {
  state: string;
  /** Set when the job cannot move now (e.g. the daily budget): following stopped there. */
  waitingFor?: string;
}

export interface TargetOptions {
  dir?: string;
  /** Whether the command writes (retry, backfill): only then is the local pipeline run to the end. */
  writes: boolean;
}

export async function openTarget(io: CliIo, options: TargetOptions): Promise<OperatorTarget> {
  if (options.dir !== undefined) return openLocal(io, options.dir, options.writes);
  return openConfigured(io, options.writes);
}

function withDeps(deps: () => CoreDeps, where: string, prefix: string, close: () => Promise<void>): OperatorTarget {
  return { where, prefix, ...operationsOn(deps, prefix), close };
}

/** The deployed services, from the environment, with one clear line for everything missing. */
function openConfigured(io: CliIo, writes: boolean): OperatorTarget {
  const env = { ...io.env };
  // `status` never calls DashScope: do not make an operator hold its key just to look.
  if (!writes && !env.DASHSCOPE_API_KEY?.trim()) env.DASHSCOPE_API_KEY = 'not-needed-for-status';
  const problems: string[] = [];
  try {
    loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const id = env.ALIBABA_CLOUD_ACCESS_KEY_ID?.trim();
  const secret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET?.trim();
  if (!id || !secret) problems.push('ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are required (an access key or STS credentials with ALIBABA_CLOUD_SECURITY_TOKEN)');
  if (problems.length) {
    throw new UsageError(`cannot reach the configured services: ${problems.join('; ')}. Set them in the environment, or use --dir DIR for a local bucket folder`);
  }
  const token = env.ALIBABA_CLOUD_SECURITY_TOKEN?.trim();
  const runtime = createRuntime({ env, logSink: () => {} });
  const credentials = { accessKeyId: id!, accessKeySecret: secret!, ...(token ? { securityToken: token } : {}) };
  const deps = operatorDeps(runtime, credentials);
  const { oss, tablestore } = runtime.config;
  return withDeps(deps, `bucket ${oss.bucket}, Tablestore ${tablestore.instance}/${tablestore.table}`, runtime.config.sketchPrefix, async () => {});
}

async function openLocal(io: CliIo, dirOption: string, writes: boolean): Promise<OperatorTarget> {
  const dir = resolveDir(dirOption)!;
  const running = await findRunning(dir);
  if (running) {
    return {
      where: `the sketchflow local running on ${displayPath(dir)} (pid ${running.info.pid})`,
      prefix: running.info.prefix,
      status: (p) => running.status(p),
      retry: (key) => running.retry(key),
      retryFailed: (p) => running.retryFailed(p),
      backfill: (p) => running.backfill(p),
      close: async () => {},
    };
  }
  if (!fs.existsSync(dir)) throw new UsageError(`${displayPath(dir)} does not exist (sketchflow local --dir ${displayPath(dir)} creates it)`);
  const interrupt = watchInterrupt(io);
  const session: LocalSession = await startLocalSession({
    dir,
    env: io.env,
    dashscope: 'sim',
    // Work queued here is run to the end before the command returns: no long prompt grace.
    once: true,
    stdout: io.stdout,
    stderr: io.stderr,
    tty: isTty(io),
    watch: false,
    // Looking must not start work left over from an earlier run, nor rewrite the gallery.
    timer: writes,
    gallery: writes,
  });
  const target = withDeps(session.deps, `the local bucket folder ${displayPath(dir)}`, session.settings.prefix, () => session.close());
  target.follow = async (wanted) => {
    for (const j of wanted) session.progress.expect(j.jobKey, j.state);
    const settled = await session.settle(wanted.map((j) => j.jobKey), interrupt.signal);
    return new Map(settled.map((j) => [j.jobKey, { state: j.state, ...(j.waitingFor ? { waitingFor: j.waitingFor } : {}) }]));
  };
  return target;
}
