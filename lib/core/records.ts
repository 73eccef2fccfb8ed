/**
 * What the pipeline keeps in Tablestore. One table, primary key (kind, id); each row is a JSON
 * value with an optimistic-lock revision (see RowStore). Kinds:
 *   job/<jobId>                  the job and its current version (the truth)
 *   active/<jobId>:<versionId>   one per non-terminal version: the poller's sweep reads these,
 *                                never the finished jobs (SPEC §4: reads track active work)
 *   queue/<model>#<queuedAt>#<jobId>  QUEUED versions, one FIFO per model (a backlog on one model
 *                                never hides another's head)
 *   slot/<model>#<nn>            each model's leased slots: inFlightLimit(model) of them (SPEC §4
 *                                invariant 3); an absent row is a free slot
 *   lease/poller                 the one scheduler
 *   budget/<yyyy-mm-dd>          images and their price requested that day (Asia/Shanghai)
 *   task/<taskId>                which version a DashScope task belongs to (crash reconciliation)
 *   attempt/<jobId>:<ver>:<claim> the task a claim's create call got (crash reconciliation)
 *   pause/<model>                submission of that model paused: DashScope refused the account
 *                                for it (key, billing, not activated)
 *   scan/uploads                 where the poller's catch-up listing of the bucket goes on from
 * Index rows (active, queue) are hints that always point at the job row; a stale one is dropped
 * when read, so they never need to be written atomically with the job.
 */
import { LEGACY_MODEL, type ModelParameters } from '../models/index.js';
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
  /** The upload: key, ETag and Last-Modified (ISO, whole seconds) — identical bytes re-uploaded differ in the last. */
  sketch: { key: string; etag: string; size: number; lastModified?: string };
  sidecar?: { key: string; etag: string; lastModified?: string };
  state: JobState;
  createdAt: number;
  updatedAt: number;
  /** `model` is absent only in rows written before models existed: LEGACY_MODEL (see modelOf). */
  request?: { model?: string; prompt: string; parameters: ModelParameters; normalized: boolean; process?: string };
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
  /** While SUBMITTING: the claim that holds it (the slot row's `claim`), told apart from any other. */
  claim?: string;
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
  /**
   * The one writer — a version, in one invocation (`owner`) — that may write the job's outputs
   * (images, stale-image deletes, manifest) until
   * `until`: later than the platform's deadline of every invocation that took it, so once it has
   * passed no writer of that version is alive (FC stops each invocation at its timeout). A newer
   * version, or another invocation finishing the same one, waits for it; it is given up when the
   * version ends (so a version's manifest is written by one invocation only).
   */
  outputs?: { versionId: string; owner?: string; until: number };
  /** The job's sketch uploads in the order the pipeline saw them (intake.ts `pickJobFiles`). */
  uploads?: UploadOrder;
}

/**
 * OSS dates uploads in whole seconds only, so the order of two sketches of one job uploaded in the
 * same second (`cat.png`, `cat.jpg`) is what the pipeline observed (SPEC §1).
 */
export interface UploadOrder {
  /** Looks at the job's files that learnt something new so far. */
  looks: number;
  uploads: SeenUpload[];
}

export interface SeenUpload {
  key: string;
  etag: string;
  /** Last-Modified, in whole seconds. */
  second: number;
  /** The look that first listed it: a later look lists only what was uploaded after the earlier one. */
  seen: number;
  /** The look that handled its own upload event, recorded where it can decide (a peer of the same second and look). */
  event?: number;
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
  /** The version's model: which FIFO the row is in (part of its id). */
  model: string;
}

/** A slot row as read: its model and index (its id), its revision (0 = never written) and its record. */
export interface SlotView {
  model: string;
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
  /** Which create call of the version this is (its `attempts` count). */
  attempt?: number;
  /**
   * This claim, unique (invocation, slot, attempt): the version and the `attempt/` row name it. A
   * claimant that died before its job write leaves a claim nobody else can be mistaken for.
   */
  claim?: string;
  /** A task orphaned by a crash that could not be matched to its job: followed only until it ends. */
  orphan?: boolean;
  /** Images (and their price, in thousandths of a yuan) reserved from the daily budget for this submission (refunded if refused). */
  images?: number;
  milliCny?: number;
  budgetDay?: string;
  /** Consecutive task queries that failed for good (a permanent 4xx); at a few, the task is lost. */
  queryFailures?: number;
  /** Since when the task's status has been unreadable (a value outside the documented set). */
  invalidSince?: number;
}

/** DashScope refused the account (not a job): nothing is submitted until `retryAt`, then one probe. */
export interface PauseRecord {
  /** The model whose creates were refused (rows of older versions: absent). */
  model?: string;
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
  /** When the staging folder was last swept for copies no version needs (lib/core/staging.ts). */
  stagingSweptAt?: number;
}

export interface LeaseRecord {
  owner: string;
  until: number;
  /** A poller has been asked (a delayed kick) to run at this time; no one else needs to ask. */
  wakeAt?: number;
}

export interface BudgetRecord {
  /** Images reserved. */
  used: number;
  /** Their price, thousandths of a yuan (absent in rows written before prices were counted). */
  usedMilliCny?: number;
}

export interface TaskRecord {
  jobId: string;
  jobKey: string;
  versionId: string;
  createdAt: number;
}

export const FREE_SLOT: SlotRecord = { state: 'free' };

/** What the daily budget holds back for one submission (both counted, both refunded together). */
export interface BudgetAmount {
  images: number;
  milliCny: number;
}

/** The model a version is sent to (rows from before models existed: the sketch model). */
export const modelOf = (v: Pick<VersionRecord, 'request'>): string => v.request?.model ?? LEGACY_MODEL;
