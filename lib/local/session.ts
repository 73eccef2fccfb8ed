/**
 * Local mode as `sketchflow local` (and `status | retry | backfill --dir`) runs it: the pipeline on
 * a bucket folder, with settings that make a first run pleasant, the journal turned into progress
 * lines, the gallery kept up to date, the pipeline's JSON log in `DIR/.sketchflow/pipeline.log`,
 * and CoreDeps for the operator operations (backfill, retry, status) on the same services.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_KEYS, loadConfig } from '../config.js';
import type { CoreDeps } from '../core/deps.js';
import { pipelineStatus } from '../core/operations.js';
import { createRuntime, type PortDecorators } from '../runtime.js';
import { startControlServer, type ControlServer } from './control.js';
import { GalleryWriter } from './gallery.js';
import { operationsOn, operatorDeps } from './operator.js';
import { POLLER_FUNCTION, startLocalPipeline, type LocalPipeline } from './pipeline.js';
import { isFinished, Progress } from './progress.js';
import { settingsFor, STATE_DIR_NAME } from './stack.js';
import { withTemporaryUploads } from './temp-upload.js';

/** The simulator's mean task time by default (real DashScope: about 20 s). */
export const DEFAULT_TASK_SECONDS = 3;
const REAL_TASK_SECONDS = 20;
export const LOG_FILE = 'pipeline.log';

export interface LocalModeOptions {
  /** The bucket folder (absolute). */
  dir: string;
  /** The user's environment: SPEC §6 settings are read from it. */
  env: Record<string, string | undefined>;
  dashscope: 'sim' | 'real';
  /** Simulator only: mean task seconds (default 3). */
  taskSeconds?: number;
  /** Everything present is processed and then the run ends (prompt grace shortened). */
  once?: boolean;
}

export interface LocalSettings {
  env: Record<string, string>;
  timerEveryMs: number;
  taskSeconds: number;
  /** Simulated task time against the real model's (1 with the real model): the cloud's timings × this. */
  factor: number;
  prefix: string;
  real?: { apiKey: string; baseUrl: string; workspace?: string };
}

/**
 * Values that the stand-ins fill in, for checking the user's settings before anything starts: the
 * same keys that startLocalPipeline sets (settingsFor, the poller's name, the FC endpoint).
 */
const PLACEHOLDERS: Record<string, string> = {
  ...settingsFor({
    dashscope: { apiKey: 'simulator', baseUrl: 'http://127.0.0.1/api/v1' },
    oss: { bucket: 'sketchflow-local', region: 'oss-cn-beijing', endpoint: 'http://127.0.0.1', accessKeyId: '', accessKeySecret: '' },
    tablestore: { endpoint: 'http://127.0.0.1', instance: 'sketchflow', accessKeyId: '', accessKeySecret: '' },
  }),
  POLLER_FUNCTION_NAME: POLLER_FUNCTION,
  FC_ENDPOINT: 'http://127.0.0.1',
};

/**
 * The §6 settings from the user's environment, plus local defaults for the ones not set: the
 * cloud's timings (poll every 2 s, timer every minute, 50 s poll budget, 10 min prompt grace)
 * scaled by the simulator's task time against the real model's ~20 s, so a run feels like the
 * cloud, only faster. Throws ConfigError (exit 2) naming every bad setting.
 */
export function localSettings(options: LocalModeOptions): LocalSettings {
  const real = options.dashscope === 'real';
  const taskSeconds = real ? REAL_TASK_SECONDS : (options.taskSeconds ?? DEFAULT_TASK_SECONDS);
  const factor = taskSeconds / REAL_TASK_SECONDS;
  // What the stand-ins provide is not taken from the environment (a shell set up for the cloud
  // must not point local mode at it), except DashScope's settings with the real model.
  const fromUser = (key: string) => (real && key.startsWith('DASHSCOPE_')) || !(key in PLACEHOLDERS || key === 'DASHSCOPE_WORKSPACE');
  const env: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    const v = options.env[key];
    if (v !== undefined && v !== '' && fromUser(key)) env[key] = v;
  }
  const round = (n: number) => String(Math.round(n * 1000) / 1000);
  env.POLL_INTERVAL_SECONDS ??= round(Math.min(2, Math.max(0.05, 2 * factor)));
  env.POLL_BUDGET_SECONDS ??= round(Math.max(1, 50 * factor));
  env.PROMPT_GRACE_SECONDS ??= options.once ? '3' : round(Math.max(30, 600 * factor));
  env.ACCOUNT_RETRY_SECONDS ??= round(Math.max(0.5, 60 * factor));
  // The real model's events go to EventBridge in the cloud, never to this machine: poll for them.
  if (real) env.TASK_EVENTS = 'off';
  env.EVENT_SAFETY_SECONDS ??= round(Math.max(1, 30 * factor));
  // Progress is read from the journal's info lines: never filter them out.
  if (env.LOG_LEVEL !== 'debug') env.LOG_LEVEL = 'info';
  const config = loadConfig({ ...PLACEHOLDERS, ...env });
  let realSettings: LocalSettings['real'];
  if (real) {
    realSettings = {
      apiKey: config.dashscope.apiKey,
      baseUrl: config.dashscope.baseUrl,
      ...(config.dashscope.workspace ? { workspace: config.dashscope.workspace } : {}),
    };
  }
  return { env, timerEveryMs: Math.max(500, Math.round(60_000 * factor)), taskSeconds, factor, prefix: config.sketchPrefix, ...(realSettings ? { real: realSettings } : {}) };
}

export interface SettledJob {
  jobKey: string;
  /** The manifest's status when finished, else the last state seen. */
  state: string;
  /** Why a job that is left QUEUED cannot move now. */
  waitingFor?: string;
}

export interface SessionOptions extends LocalModeOptions {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  tty: boolean;
  /** Turn files copied into the folder into uploads (default true). */
  watch?: boolean;
  /** Run the poller's timer (default true). */
  timer?: boolean;
  /** Serve the control API for `status | retry | backfill --dir` (default false). */
  control?: boolean;
  /** Keep `DIR/index.html` up to date (default true). */
  gallery?: boolean;
  /** Non-terminal output: counts line at most this often (default 1000 ms). */
  summaryEveryMs?: number;
  /** localSettings(options), when the caller has computed it already. */
  settings?: LocalSettings;
}

export interface LocalSession {
  /** The bucket folder. */
  dir: string;
  settings: LocalSettings;
  pipeline: LocalPipeline;
  progress: Progress;
  gallery?: GalleryWriter;
  logFile: string;
  /** CoreDeps on the same services, for the operator operations (their journal lines show as progress). */
  deps(): CoreDeps;
  /**
   * Resolves when every job in `jobKeys` (default: every job this run has seen, including those
   * that show up meanwhile) has finished, or what is left cannot move now (QUEUED jobs that say
   * why, e.g. the daily budget), or `signal` fires.
   */
  settle(jobKeys?: string[], signal?: AbortSignal): Promise<SettledJob[]>;
  close(): Promise<void>;
}

export async function startLocalSession(options: SessionOptions): Promise<LocalSession> {
  const settings = options.settings ?? localSettings(options);
  const { dir } = options;
  fs.mkdirSync(path.join(dir, STATE_DIR_NAME), { recursive: true });
  const logFile = path.join(dir, STATE_DIR_NAME, LOG_FILE);
  // Appended to (operator commands on the folder add to it); started afresh past 10 MB.
  if ((fs.statSync(logFile, { throwIfNoEntry: false })?.size ?? 0) > 10 * 1024 * 1024) fs.renameSync(logFile, `${logFile}.1`);
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  log.on('error', () => {}); // a full disk must not stop the pipeline
  let gallery: GalleryWriter | undefined;
  const progress = new Progress({
    dir,
    prefix: settings.prefix,
    stdout: options.stdout,
    stderr: options.stderr,
    tty: options.tty,
    ...(options.summaryEveryMs !== undefined ? { summaryEveryMs: options.summaryEveryMs } : {}),
    onChange: () => gallery?.schedule(),
  });
  const logSink = (line: string) => {
    log.write(`${line}\n`);
    progress.onLogLine(line);
    if (!stopping && line.includes('"level":"error"')) {
      try {
        const r = JSON.parse(line) as { msg?: string; fn?: string; error?: { message?: string }; problem?: string };
        progress.error(`sketchflow: ${r.fn ? `${r.fn}: ` : ''}${r.msg ?? 'error'}${r.error?.message ? `: ${r.error.message}` : r.problem ? `: ${r.problem}` : ''}`);
      } catch {
        // not ours to explain
      }
    }
  };
  const decorate: PortDecorators = settings.real ? { model: (m) => withTemporaryUploads(m, settings.real!) } : {};
  // Stopping (Ctrl-C) ends each running function at its next step boundary, as a crash there
  // would: the pipeline resumes from any step (SPEC §4 invariant 1), so nothing is lost, and the
  // poller does not keep looping for the rest of its budget (up to 50 s with the real model).
  let stopping = false;
  const checkpoint = () => {
    if (stopping) throw new StoppedError();
  };
  let pipeline: LocalPipeline;
  try {
    pipeline = await startLocalPipeline({
      dir,
      watch: options.watch ?? true,
      timeScale: 1,
      taskSeconds: settings.taskSeconds,
      env: settings.env,
      timerEveryMs: settings.timerEveryMs,
      timer: options.timer ?? true,
      // Function Compute's async retry backoff (1 s, 2 s, 4 s), on the same compressed clock.
      retryDelayMs: (attempt) => Math.max(50, 1000 * 2 ** (attempt - 1) * settings.factor),
      // The service's rate limits (2 creates/s, 20 queries/s) scaled like its task time, so a
      // compressed run is throttled as often as a real one, not more.
      dashscope: { submitsPerSecond: 2 / settings.factor, queriesPerSecond: 20 / settings.factor },
      logSink,
      decorate,
      checkpoint,
      ...(settings.real ? { realDashScope: { apiKey: settings.real.apiKey, baseUrl: settings.real.baseUrl } } : {}),
      onDropped: (fn, _event, lastError) => {
        // A poller run is a hint (the timer and the next kick run it again, nothing waits on it):
        // a run cut short on a busy machine goes to the log, not to the user as a failure.
        if (fn === POLLER_FUNCTION) logSink(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'a poller run was given up; the timer runs it again', fn, error: { message: lastError } }));
        else progress.error(`sketchflow: ${fn}: an event was given up after Function Compute's retries: ${lastError}`);
      },
    });
  } catch (err) {
    progress.close();
    log.end();
    throw err;
  }
  if (options.gallery !== false) {
    gallery = new GalleryWriter(dir, settings.prefix, (jobKey) => progress.jobs.get(jobKey)?.state, (err) =>
      progress.error(`sketchflow: writing the gallery failed: ${(err as Error)?.message ?? String(err)}`),
    );
  }
  const described = pipeline.stack.describe();
  const runtime = createRuntime({ env: pipeline.env, logSink, decorate });
  const deps = operatorDeps(runtime, { accessKeyId: described.oss.accessKeyId, accessKeySecret: described.oss.accessKeySecret });
  let control: ControlServer | undefined;
  if (options.control) {
    try {
      control = await startControlServer(dir, operationsOn(deps, settings.prefix), { dashscope: options.dashscope, prefix: settings.prefix });
    } catch (err) {
      await pipeline.close();
      progress.close();
      log.end();
      throw err;
    }
  }
  const settle = async (jobKeys?: string[], signal?: AbortSignal): Promise<SettledJob[]> => {
    const keys = jobKeys ? new Set(jobKeys) : undefined;
    const jobs = () => [...progress.jobs.values()].filter((j) => !keys || keys.has(j.jobKey));
    const finished = () => (!keys || jobs().length === keys.size) && jobs().every((j) => isFinished(j.state));
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) stop.abort();
    const waiting = new Map<string, string>();
    let checking = false;
    const check = setInterval(() => {
      if (checking) return;
      checking = true;
      pipelineStatus(deps(), '')
        .then((st) => {
          const open = st.jobs.filter((j) => (!keys || keys.has(j.jobKey)) && progress.jobs.has(j.jobKey) && !isFinished(progress.jobs.get(j.jobKey)!.state));
          if (open.length && open.every((j) => j.state === 'QUEUED' && j.waitingFor)) {
            for (const j of open) waiting.set(j.jobKey, j.waitingFor!);
            stop.abort();
          }
        })
        .catch(() => {})
        .finally(() => (checking = false));
    }, 1000);
    try {
      await progress.until(finished, stop.signal);
    } finally {
      clearInterval(check);
      signal?.removeEventListener('abort', abort);
    }
    return jobs().map((j) => ({
      jobKey: j.jobKey,
      state: (isFinished(j.state) ? progress.manifest(j.jobKey)?.status : undefined) ?? j.state,
      ...(waiting.has(j.jobKey) ? { waitingFor: waiting.get(j.jobKey)! } : {}),
    }));
  };
  let closed = false;
  return {
    dir,
    settings,
    pipeline,
    progress,
    ...(gallery ? { gallery } : {}),
    logFile,
    deps,
    settle,
    async close() {
      if (closed) return;
      closed = true;
      stopping = true;
      await control?.close();
      await pipeline.close();
      gallery?.writeNow();
      progress.close();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}

/** Thrown at a step boundary once the session is stopping (never reaches the user). */
export class StoppedError extends Error {
  override readonly name = 'StoppedError';
  constructor() {
    super('sketchflow local is stopping');
  }
}
