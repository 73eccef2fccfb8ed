/**
 * What the pipeline keeps in Tablestore. One table, primary key (kind, id); each row is a JSON
 * value with an optimistic-lock revision (see RowStore). Kinds:
 *   job/<jobId>                  the job and its current version (the truth)
 *   active/<jobId>:<versionId>   one per non-terminal version: the poller's sweep reads these,
 *                                never the finished jobs (SPEC §4: reads track active work)
 *   queue/<queuedAt>#<jobId>     QUEUED versions in FIFO order
 *   slot/<n>                     the MAX_IN_FLIGHT leased slots (SPEC §4 invariant 3)
 *   lease/poller                 the one scheduler
 *   budget/<yyyy-mm-dd>          images requested that day (Asia/Shanghai)
 *   task/<taskId>                which version a DashScope task belongs to (crash reconciliation)
 *   attempt/<jobId>:<ver>:<n>    the task of the n-th create call of a version (crash reconciliation)
 *   pause/account                submission paused: DashScope refused the account (key, billing)
 *   scan/uploads                 where the poller's catch-up listing of the bucket goes on from
 * Index rows (active, queue) are hints that always point at the job row; a stale one is dropped
 * when read, so they never need to be written atomically with the job.
 */
import type { RequestParameters } from '../contract/request.js';
import type { ManifestResult, ManifestStatus } from '../contract/manifest.js';

export const KIND = {
  job: 'job',
  active: 'active',
  queue: 'queue',
  slot: 'slot',
  lease: 'lease',
  budget: 'budget',
  task: 'task',
  attempt: 'attempt',
  pause: 'pause',
  scan: 'scan',
} as const;

export type JobState =
  | 'AWAITING_PROMPT'
  | 'QUEUED'
  /** A slot is held and the create call is under way (or its outcome is unknown after a crash). */
  | 'SUBMITTING'
  | 'SUBMITTED'
  | 'RUNNING'
  /** The outcome is known (DashScope finished, or the input failed its checks); outputs and
   *  manifest are being written. Holds no slot; resumable after a crash. */
  | 'FINALIZING'
  | 'SUCCEEDED'
  | 'PARTIAL'
  | 'FAILED'
  | 'CANCELED'
  | 'SUPERSEDED';

export const TERMINAL_STATES: readonly JobState[] = ['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELED', 'SUPERSEDED'];
export const isTerminal = (state: JobState) => TERMINAL_STATES.includes(state);

export interface ErrorInfo {
  code: string;
  message: string;
}

/** The decided end of a version, stored before the manifest is written so finalizing can resume. */
export interface Outcome {
  status: ManifestStatus;
  results: ManifestResult[];
  imageCount: number;
  error?: ErrorInfo;
}

export interface VersionRecord {
  id: string;
  sketch: { key: string; etag: string; size: number };
  sidecar?: { key: string; etag: string };
  state: JobState;
  createdAt: number;
  updatedAt: number;
  request?: { prompt: string; parameters: RequestParameters; normalized: boolean; process?: string };
  warnings: string[];
  error?: ErrorInfo;
  /** FIFO position; kept across throttling so a job does not lose its place. */
  queuedAt?: number;
  notBefore?: number;
  /** Consecutive refusals of the create call (429/5xx), for backoff. */
  refusals?: number;
  /** Why a QUEUED job is not moving (budget), shown by the CLI. */
  waitingFor?: string;
  /** Create calls that may have reached DashScope (SPEC §4 invariant 2 counts these). */
  attempts: number;
  taskId?: string;
  slot?: number;
  submittedAt?: string;
  startedAt?: string;
  endedAt?: string;
  outcome?: Outcome;
}

export interface JobRecord {
  jobKey: string;
  current: VersionRecord;
  /** Bumped by `sketchflow retry`: part of the version id, so the same files make a new version. */
  generation?: number;
  /** Earlier versions, newest last (kept short: it is for people, not for decisions). */
  previous: Array<{ id: string; state: JobState; taskId?: string; at: number }>;
}

export interface ActiveRecord {
  jobId: string;
  jobKey: string;
  versionId: string;
  since: number;
}

export interface QueueRecord {
  jobId: string;
  jobKey: string;
  versionId: string;
}

/** A slot row as read: its index, its revision (0 = never written) and its record. */
export interface SlotView {
  index: number;
  rev: number;
  slot: SlotRecord;
}

export type SlotState = 'free' | 'submitting' | 'inflight';

export interface SlotRecord {
  state: SlotState;
  jobId?: string;
  jobKey?: string;
  versionId?: string;
  taskId?: string;
  acquiredAt?: number;
  /** For 'submitting': after this, the holder is presumed dead (reconcile.ts). */
  leaseUntil?: number;
  owner?: string;
  /** Which create call of the version this is (its `attempts` count), to find its `attempt/` row. */
  attempt?: number;
  /** A task orphaned by a crash that could not be matched to its job: followed only until it ends. */
  orphan?: boolean;
  /** Images reserved from the daily budget for this submission (refunded if refused). */
  images?: number;
  budgetDay?: string;
  /** Consecutive task queries that failed for good (a permanent 4xx); at a few, the task is lost. */
  queryFailures?: number;
  /** Since when the task's status has been unreadable (a value outside the documented set). */
  invalidSince?: number;
}

/** DashScope refused the account (not a job): nothing is submitted until `retryAt`, then one probe. */
export interface PauseRecord {
  code: string;
  message: string;
  since: number;
  retryAt: number;
  /** Probes refused so far; the wait doubles with each. */
  probes: number;
}

/** The catch-up listing's position in the bucket (the last key of the page it read). */
export interface ScanRecord {
  after?: string;
}

export interface LeaseRecord {
  owner: string;
  until: number;
  /** A poller has been asked (a delayed kick) to run at this time; no one else needs to ask. */
  wakeAt?: number;
}

export interface BudgetRecord {
  used: number;
}

export interface TaskRecord {
  jobId: string;
  jobKey: string;
  versionId: string;
  createdAt: number;
}

export const FREE_SLOT: SlotRecord = { state: 'free' };
