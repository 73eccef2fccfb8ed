/**
 * What `sketchflow local` shows a person: one line per job state change (sketch, state, elapsed),
 * a live count of queued / in flight / done / failed (a status line redrawn in place on a
 * terminal, a summary line after changes otherwise), and each failure as one readable line on
 * stderr with its manifest path. It is driven by the pipeline's own journal: every job state
 * change is one JSON log line `{"msg":"job state","jobKey","version","state",…}` (core/journal.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { manifestKey } from '../contract/keys.js';
import { ManifestSchema, type Manifest } from '../contract/manifest.js';
import { STATE_MESSAGE } from '../core/journal.js';
import type { JobState } from '../core/records.js';

export type Bucket = 'waiting' | 'queued' | 'inFlight' | 'done' | 'failed' | 'superseded';

export function bucketOf(state: JobState | string): Bucket {
  switch (state) {
    case 'AWAITING_PROMPT':
      return 'waiting';
    case 'QUEUED':
      return 'queued';
    case 'SUCCEEDED':
      return 'done';
    case 'PARTIAL':
    case 'FAILED':
    case 'CANCELED':
      return 'failed';
    case 'SUPERSEDED':
      return 'superseded';
    default:
      return 'inFlight'; // SUBMITTING, SUBMITTED, RUNNING, FINALIZING
  }
}

export const isFinished = (state: string | undefined): boolean => state !== undefined && (bucketOf(state) === 'done' || bucketOf(state) === 'failed');

export interface JobProgress {
  jobKey: string;
  state: string;
  version: string;
  /** Real ms when this run first saw the job. */
  firstSeen: number;
  lastChange: number;
  taskId?: string;
  error?: { code: string; message: string };
  /** Versions replaced by a newer upload: their late lines are not the job's state. */
  superseded: Set<string>;
}

export interface Counts {
  waiting: number;
  queued: number;
  inFlight: number;
  done: number;
  failed: number;
}

export interface ProgressOptions {
  /** The bucket directory (manifests are read from it; paths are shown relative to the cwd). */
  dir: string;
  prefix: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Redraw a status line in place (a terminal) instead of printing summary lines. */
  tty: boolean;
  /** Non-terminal output: a counts line at most this often after changes (default 1000 ms). */
  summaryEveryMs?: number;
  now?: () => number;
  /** Called after each state change of a job (e.g. to regenerate the gallery). */
  onChange?: (job: JobProgress) => void;
}

export class Progress {
  readonly jobs = new Map<string, JobProgress>();
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  /** Real ms when the run started: the clock in front of every line. */
  readonly started: number;
  private statusShown = false;
  private summaryTimer?: NodeJS.Timeout;
  private lastSummary = '';
  private closed = false;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** Feed one pipeline log line (JSON); anything that is not a job state change is ignored. */
  onLogLine(line: string): void {
    if (!line.includes(STATE_MESSAGE)) return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (record.msg !== STATE_MESSAGE || typeof record.jobKey !== 'string' || typeof record.state !== 'string') return;
    this.onState({
      jobKey: record.jobKey,
      version: typeof record.version === 'string' ? record.version : '',
      state: record.state,
      ...(typeof record.taskId === 'string' ? { taskId: record.taskId } : {}),
      ...(isErrorInfo(record.error) ? { error: record.error } : {}),
    });
  }

  onState(change: { jobKey: string; version: string; state: string; taskId?: string; error?: { code: string; message: string } }): void {
    const now = this.now();
    let job = this.jobs.get(change.jobKey);
    if (job?.superseded.has(change.version)) return; // a replaced version's late news
    if (change.state === 'SUPERSEDED') {
      // Logged just before the newer version's first state: remember it, show it, count nothing.
      if (job) job.superseded.add(change.version);
      this.print(`${this.name(change.jobKey).padEnd(16)} SUPERSEDED by a newer upload`);
      return;
    }
    if (!job) {
      job = { jobKey: change.jobKey, state: change.state, version: change.version, firstSeen: now, lastChange: now, superseded: new Set() };
      this.jobs.set(change.jobKey, job);
    } else if (job.state === change.state && job.version === change.version) {
      return; // the same state logged again (a resumed step)
    }
    if (job.version !== change.version && isFinished(job.state)) job.firstSeen = now; // processed again (retry, new upload)
    Object.assign(job, { state: change.state, version: change.version, lastChange: now });
    if (change.taskId) job.taskId = change.taskId;
    if (change.error) job.error = change.error;
    else if (!isFinished(change.state)) delete job.error;
    this.printChange(job);
    this.options.onChange?.(job);
    for (const l of [...this.listeners]) l();
  }

  /** Marks `jobKey` as expected (e.g. queued by backfill before any line about it arrived). */
  expect(jobKey: string, state: string): void {
    if (!this.jobs.has(jobKey)) {
      const now = this.now();
      this.jobs.set(jobKey, { jobKey, state, version: '', firstSeen: now, lastChange: now, superseded: new Set() });
      this.refresh();
    }
  }

  counts(): Counts {
    const c: Counts = { waiting: 0, queued: 0, inFlight: 0, done: 0, failed: 0 };
    for (const j of this.jobs.values()) {
      const b = bucketOf(j.state);
      if (b !== 'superseded') c[b]++;
    }
    return c;
  }

  countsLine(): string {
    const c = this.counts();
    const parts = [`queued ${c.queued}`, `in flight ${c.inFlight}`, `done ${c.done}`, `failed ${c.failed}`];
    if (c.waiting) parts.push(`waiting for a prompt ${c.waiting}`);
    return parts.join(' · ');
  }

  /** Resolves when `check()` holds (re-checked after every state change). */
  until(check: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const test = () => {
        if (check() || signal?.aborted) {
          this.listeners.delete(test);
          signal?.removeEventListener('abort', test);
          resolve();
        }
      };
      this.listeners.add(test);
      signal?.addEventListener('abort', test, { once: true });
      test();
    });
  }

  /** The job's manifest as written to disk (undefined while it has none). */
  manifest(jobKey: string): Manifest | undefined {
    return readManifest(this.options.dir, jobKey);
  }

  /** A path a person can open: relative to the cwd when the bucket folder is below it. */
  shown(key: string): string {
    return displayPath(path.join(this.options.dir, key));
  }

  name(jobKey: string): string {
    return jobKey.startsWith(this.options.prefix) ? jobKey.slice(this.options.prefix.length) : jobKey;
  }

  /** A line above the status line (or a plain line when there is none), after the run's clock. */
  print(text: string): void {
    if (this.closed) return;
    const line = `${formatElapsed(this.now() - this.started).padStart(7)}  ${text}`;
    this.clearStatus();
    this.options.stdout(`${line}\n`);
    this.refresh();
  }

  /** An error line on stderr (the status line is taken down and redrawn around it). */
  error(text: string): void {
    this.clearStatus();
    this.options.stderr(`${text}\n`);
    this.refresh();
  }

  /** Redraws the live counts (terminal), or schedules a counts line (otherwise). */
  refresh(): void {
    if (this.closed) return;
    if (this.options.tty) {
      if (this.jobs.size === 0) return;
      this.options.stdout(`\r\x1b[2K${this.countsLine()}`);
      this.statusShown = true;
      return;
    }
    if (this.summaryTimer || this.jobs.size === 0) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      this.summary();
    }, this.options.summaryEveryMs ?? 1000);
    this.summaryTimer.unref();
  }

  /** Prints the counts line now (non-terminal output), unless it is unchanged. */
  summary(force = false): void {
    if (this.closed || this.options.tty) return;
    const line = this.countsLine();
    if (!force && line === this.lastSummary) return;
    this.lastSummary = line;
    this.options.stdout(`-- ${line}\n`);
  }

  close(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    this.clearStatus();
    this.closed = true;
    this.listeners.clear();
  }

  private clearStatus(): void {
    if (this.statusShown) {
      this.options.stdout('\r\x1b[2K');
      this.statusShown = false;
    }
  }

  private printChange(job: JobProgress): void {
    const name = this.name(job.jobKey);
    let detail = '';
    if (job.state === 'SUBMITTED' && job.taskId) detail = `task ${job.taskId.slice(0, 8)}…`;
    if (job.state === 'AWAITING_PROMPT') detail = 'no prompt yet: add a .json or .txt sidecar';
    let manifest: Manifest | undefined;
    if (isFinished(job.state)) {
      manifest = this.manifest(job.jobKey);
      const results = (manifest?.results ?? []).filter((r) => r.key).map((r) => this.shown(r.key!));
      const error = manifest?.error ?? job.error ?? manifest?.results.find((r) => r.error)?.error;
      detail = `in ${formatElapsed(this.now() - job.firstSeen)}`;
      if (results.length) detail += ` → ${results.join(', ')}`;
      else if (error) detail += ` (${error.code})`;
    }
    this.print(`${name.padEnd(16)} ${detail ? `${job.state.padEnd(10)} ${detail}` : job.state}`);
    if (bucketOf(job.state) === 'failed') this.error(failureLine(job, manifest, this.shown(manifestKey(job.jobKey))));
  }
}

/** `sketches/cat FAILED: InvalidSidecar: … (see local-bucket/sketches/cat.result.json)` */
export function failureLine(job: Pick<JobProgress, 'jobKey' | 'state' | 'error'>, manifest: Manifest | undefined, manifestPath: string): string {
  const failedImages = (manifest?.results ?? []).filter((r) => r.error);
  const error = manifest?.error ?? job.error ?? failedImages[0]?.error;
  const what = job.state === 'PARTIAL' ? `PARTIAL (${failedImages.length} of ${manifest?.results.length ?? '?'} images failed)` : job.state;
  const why = error ? `: ${error.code}: ${oneLine(error.message)}` : '';
  return `${job.jobKey} ${what}${why} (see ${manifestPath})`;
}

export function readManifest(dir: string, jobKey: string): Manifest | undefined {
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(fs.readFileSync(path.join(dir, manifestKey(jobKey)), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** An age for `status`: 42s, 3m 05s, 2h 10m, 4d 3h. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function isErrorInfo(v: unknown): v is { code: string; message: string } {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string' && typeof (v as { message?: unknown }).message === 'string';
}
