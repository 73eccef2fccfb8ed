/**
 * The job lifecycle (SPEC §4) as pure functions: a version and its slot, plus what just happened
 * (a claim, a create's reply, a task query's reply), give the next version, the next slot and what
 * else must be done. No I/O here: the shells (dispatch, track, reconcile) load the rows, call these
 * and apply the result with conditional writes. Every version change is a guarded update — it
 * returns undefined when the row is no longer in the state the decision was made for, so a late or
 * duplicate writer changes nothing (issue 13 run 5).
 *
 * The rules held here: what counts as an attempt (a create that may have reached DashScope), when
 * the budget is given back (only when DashScope refused the create), which replies mean created /
 * refused / unknown, when a task is lost, and when the account, not the job, is at fault.
 */
import type { Config } from '../../config.js';
import { dashscopeTimeToIso, isoTime } from '../../contract/dashscope-time.js';
import type { TaskView } from '../ports.js';
import { isTerminal, type ErrorInfo, type Outcome, type PauseRecord, type SlotRecord, type SlotView, type VersionRecord } from '../records.js';
import type { LifecycleRules } from './rules.js';

/** A version update that applies only if the row is still what the decision was made for. */
export type Guarded = (cur: VersionRecord) => VersionRecord | undefined;

export type LifecycleConfig = Pick<Config, 'dashscope' | 'maxAttempts' | 'pollIntervalMs' | 'accountRetryMs'>;

export interface Ctx {
  now: number;
  config: LifecycleConfig;
  rules: LifecycleRules;
  /** Uniform in [0, 1), for backoff jitter. */
  random: () => number;
}

const MAX_BACKOFF_MS = 60_000;
/** Permanent query failures in a row after which the task is treated as lost. */
export const QUERY_FAILURES_LOST = 3;
/** An unreadable status for this long means DashScope no longer has a task we can follow (24 h retention). */
export const INVALID_STATUS_LOST_MS = 24 * 3600_000;
/** The account pause doubles per refused probe, up to this many times the first wait. */
const MAX_PAUSE_FACTOR = 16;

/**
 * How long a slot may stay 'submitting' before its holder is presumed dead: the create is aborted
 * after one DashScope timeout, which leaves the holder another timeout plus a second to record the
 * reply before anyone reconciles the slot.
 */
export function submitLeaseMs(config: Pick<Config, 'dashscope'>): number {
  return 2 * config.dashscope.timeoutMs + 1000;
}

/** When the create call is aborted: one DashScope timeout after the lease starts (run 4). */
export function createDeadline(leaseStart: number, config: Pick<Config, 'dashscope'>): number {
  return leaseStart + config.dashscope.timeoutMs;
}

/**
 * Wait before sending a refused create again: from about one poller pass, doubling per refusal,
 * jittered, at most a minute (DashScope's rate limits "usually recover within one minute").
 */
export function backoffMs(refusals: number, pollIntervalMs: number, random: () => number = Math.random): number {
  const first = Math.min(1000, pollIntervalMs);
  const base = Math.min(MAX_BACKOFF_MS, first * 2 ** Math.max(0, refusals - 1));
  return base / 2 + Math.floor(random() * Math.max(1, Math.floor(base / 2)));
}

/** How long submission stays paused after the account was refused (doubling per refused probe). */
export function accountPauseMs(probes: number, accountRetryMs: number): number {
  return accountRetryMs * Math.min(MAX_PAUSE_FACTOR, 2 ** Math.max(0, probes));
}

/** Budget limits, 0 = none (MAX_IMAGES_PER_DAY; MAX_CNY_PER_DAY in thousandths of a yuan). */
export interface DailyLimits {
  images: number;
  milliCny: number;
}

const cnyText = (milli: number) => String(milli / 1000);

/**
 * A job asking for more than a day's budget could never be sent (issue 13 run 9): the error, or
 * undefined when it fits an empty day.
 */
export function budgetNeverFits(amount: { images: number; milliCny: number }, limits: DailyLimits, model?: string): ErrorInfo | undefined {
  if (limits.images > 0 && amount.images > limits.images) {
    return {
      code: 'BudgetExceeded',
      message: `asks for ${amount.images} image(s), more than MAX_IMAGES_PER_DAY (${limits.images}) allows in a day, so it could never be sent; lower n or raise the limit, then use sketchflow retry`,
    };
  }
  if (limits.milliCny > 0 && amount.milliCny > limits.milliCny) {
    return {
      code: 'BudgetExceeded',
      message: `costs CNY ${cnyText(amount.milliCny)} (${amount.images} image(s)${model ? ` of ${model}` : ''}), more than MAX_CNY_PER_DAY (${cnyText(limits.milliCny)}) allows in a day, so it could never be sent; lower n, choose a cheaper model or raise the limit, then use sketchflow retry`,
    };
  }
  return undefined;
}

/** Why a QUEUED job that does not fit what is left of today's budget waits (shown by `status`). */
export function budgetWaitReason(over: 'images' | 'cny', limits: DailyLimits, day: string): string {
  return over === 'images'
    ? `the daily image budget (MAX_IMAGES_PER_DAY=${limits.images}) is used up for ${day}; it resumes after midnight Asia/Shanghai`
    : `the daily spending budget (MAX_CNY_PER_DAY=${cnyText(limits.milliCny)}) is used up for ${day}; it resumes after midnight Asia/Shanghai`;
}

export const isBudgetWait = (reason: string | undefined) => (reason?.startsWith('the daily image budget') || reason?.startsWith('the daily spending budget')) ?? false;

/** Which limit a reservation of `amount` would pass, with `used` already reserved today. */
export function budgetOver(used: { images: number; milliCny: number }, amount: { images: number; milliCny: number }, limits: DailyLimits): 'images' | 'cny' | undefined {
  if (limits.images > 0 && used.images + amount.images > limits.images) return 'images';
  if (limits.milliCny > 0 && used.milliCny + amount.milliCny > limits.milliCny) return 'cny';
  return undefined;
}

// ------------------------------------------------------------------ who follows a slot's task

/**
 * Does this version follow the slot's task? It does while it is the slot's version and either
 * holds that task, or is still SUBMITTING this very attempt in this slot (the reply is being
 * recorded). Anything else — superseded, requeued, resubmitted elsewhere, finished — does not.
 */
export function followsSlot(v: VersionRecord | undefined, slot: SlotView): boolean {
  const s = slot.slot;
  if (!v || s.orphan || v.id !== s.versionId) return false;
  if (v.state === 'SUBMITTED' || v.state === 'RUNNING') return v.taskId === s.taskId;
  if (v.state === 'SUBMITTING') return holdsClaim(v, s);
  return false;
}

/** Is this SUBMITTING version held by exactly this claim? */
export function holdsClaim(v: VersionRecord, s: Pick<SlotRecord, 'claim'>): boolean {
  return v.state === 'SUBMITTING' && s.claim !== undefined && v.claim === s.claim;
}

// ------------------------------------------------------------------ claim

/** QUEUED → SUBMITTING: the slot and the version a filler writes (slot first, then the job). */
export function claim(
  v: VersionRecord,
  at: { jobId: string; jobKey: string; index: number; owner: string; images: number; milliCny: number; budgetDay: string },
  ctx: Pick<Ctx, 'now' | 'config'>,
): { slot: SlotRecord; version: VersionRecord } {
  const attempt = v.attempts + 1;
  const claimId = `${at.owner}/${at.index}/${attempt}`;
  return {
    slot: {
      claim: claimId,
      state: 'submitting',
      jobId: at.jobId,
      jobKey: at.jobKey,
      versionId: v.id,
      acquiredAt: ctx.now,
      leaseUntil: ctx.now + submitLeaseMs(ctx.config),
      owner: at.owner,
      images: at.images,
      milliCny: at.milliCny,
      budgetDay: at.budgetDay,
      attempt,
    },
    // An attempt is counted from the claim on: the create may reach DashScope from here.
    version: { ...v, state: 'SUBMITTING', attempts: attempt, slot: at.index, claim: claimId, waitingFor: undefined, updatedAt: ctx.now },
  };
}

/**
 * A claimed version goes back to the queue before any create was sent (the budget of the day the
 * create would be sent on has no room): the attempt is not counted, the version keeps its place.
 */
export function unclaim(slot: Pick<SlotRecord, 'claim'>, waitingFor: string, now: number): Guarded {
  return (cur) =>
    holdsClaim(cur, slot) ? { ...cur, state: 'QUEUED', attempts: Math.max(0, cur.attempts - 1), slot: undefined, claim: undefined, waitingFor, updatedAt: now } : undefined;
}

/** The slot as rewritten just before the create: the lease starts now (run 4). */
export function leaseForCreate(slot: SlotRecord, ctx: Pick<Ctx, 'now' | 'config'>): SlotRecord {
  return { ...slot, leaseUntil: ctx.now + submitLeaseMs(ctx.config) };
}

// ------------------------------------------------------------------ the create's reply

export type CreateDecision =
  /** A task exists and is ours: record it, follow it. */
  | { kind: 'created'; taskId: string; slot: SlotRecord; version: Guarded }
  /** It may exist: hand the slot to reconciliation at once; the attempt and the images stay counted. */
  | { kind: 'unknown'; slot: SlotRecord }
  /** Refused, nothing created: back in line in the same place; the images are given back. */
  | { kind: 'requeue'; cls: 'retry' | 'throttled' | 'account'; version: Guarded; retryInMs: number; pause?: PauseRecord }
  /** Refused for good: the job ends with DashScope's code; the images are given back. */
  | { kind: 'fail'; error: ErrorInfo };

export function afterCreate(
  slot: SlotView,
  reply: { taskId: string } | { error: unknown },
  ctx: Ctx & { pause?: PauseRecord },
): CreateDecision {
  const { now, config } = ctx;
  const mine = (cur: VersionRecord) => holdsClaim(cur, slot.slot);
  if ('taskId' in reply) {
    const taskId = reply.taskId;
    return {
      kind: 'created',
      taskId,
      slot: { ...slot.slot, state: 'inflight', taskId, leaseUntil: undefined },
      version: (cur) => (mine(cur) ? { ...cur, state: 'SUBMITTED', taskId, claim: undefined, submittedAt: isoTime(now), refusals: 0, notBefore: undefined, updatedAt: now } : undefined),
    };
  }
  const cls = ctx.rules.classify('create', reply.error);
  if (cls === 'unknown') return { kind: 'unknown', slot: { ...slot.slot, leaseUntil: now } };
  if (cls === 'terminal' || cls === 'permanent') {
    const err = reply.error as { code?: unknown; message?: unknown };
    return { kind: 'fail', error: { code: typeof err?.code === 'string' ? err.code : 'SubmitFailed', message: String(err?.message ?? err) } };
  }
  const accountRefused = cls === 'account';
  const probes = accountRefused ? (ctx.pause?.probes ?? -1) + 1 : 0;
  const pause: PauseRecord | undefined = accountRefused
    ? (() => {
        const err = reply.error as { code?: unknown; message?: unknown };
        return {
          code: typeof err?.code === 'string' ? err.code : 'AccountRefused',
          message: String(err?.message ?? err),
          since: ctx.pause?.since ?? now,
          retryAt: now + accountPauseMs(probes, config.accountRetryMs),
          probes,
        };
      })()
    : undefined;
  const retryInMs = pause ? pause.retryAt - now : 0;
  return {
    kind: 'requeue',
    cls: accountRefused ? 'account' : cls === 'throttled' ? 'throttled' : 'retry',
    ...(pause ? { pause } : {}),
    retryInMs,
    version: (cur) => {
      if (!mine(cur)) return undefined;
      // Nothing reached DashScope's queue: the attempt is not counted (SPEC §4.2).
      if (accountRefused) return { ...cur, state: 'QUEUED', attempts: Math.max(0, cur.attempts - 1), slot: undefined, claim: undefined, updatedAt: now };
      const refusals = (cur.refusals ?? 0) + 1;
      return {
        ...cur,
        state: 'QUEUED',
        attempts: Math.max(0, cur.attempts - 1),
        refusals,
        notBefore: now + backoffMs(refusals, config.pollIntervalMs, ctx.random),
        slot: undefined,
        claim: undefined,
        updatedAt: now,
      };
    },
  };
}

// ------------------------------------------------------------------ a task query's reply

export type QueryDecision =
  /** Nothing ends: maybe note something on the slot or the version. */
  | { kind: 'keep'; slot?: SlotRecord; version?: Guarded; warn?: string }
  /** DashScope finished it: the version goes FINALIZING with the task, the slot is freed at once. */
  | { kind: 'finish'; version: Guarded }
  /** DashScope lost it: send again within MAX_ATTEMPTS (SPEC §4.2 b), else the job ends TaskLost. */
  | { kind: 'lost'; reason: string; requeue?: Guarded; outcome?: Outcome; follows: (cur: VersionRecord) => boolean }
  /** A task no current version follows, still PENDING: cancel it, then free the slot. */
  | { kind: 'cancel' }
  /** A task no current version follows has ended (or is gone): free the slot, drop its results. */
  | { kind: 'release' };

export interface QueryInput {
  slot: SlotView;
  /** The current version of the slot's job (undefined for an orphan or a job that is gone). */
  version?: VersionRecord;
  reply: { view: TaskView } | { error: unknown };
}

export function afterQuery(input: QueryInput, ctx: Ctx): QueryDecision {
  const { slot, version, reply } = input;
  const { now, config, rules } = ctx;
  const s = slot.slot;
  const follows = (cur: VersionRecord) => followsSlot(cur, slot);
  const mine = rules.guardLostRequeue ? followsSlot(version, slot) : Boolean(version && !s.orphan && version.id === s.versionId);

  if ('error' in reply) {
    const cls = rules.classify('query', reply.error);
    if (cls !== 'permanent' || !mine) return { kind: 'keep', warn: `task query failed (${cls})` };
    const failures = (s.queryFailures ?? 0) + 1;
    if (failures < QUERY_FAILURES_LOST) return { kind: 'keep', slot: { ...s, queryFailures: failures }, warn: 'task query failed for good' };
    const code = (reply.error as { code?: unknown })?.code;
    return lost(`the task query failed ${failures} times in a row (${typeof code === 'string' ? code : 'error'})`);
  }

  const view = reply.view;
  const cls = rules.taskStatusClass(view.status, view.code);
  if (!mine) {
    // An orphan, a superseded version's task, or one its version stopped following.
    if (cls === 'waiting') return { kind: 'cancel' };
    if (cls === 'finished' || cls === 'lost') return { kind: 'release' };
    return { kind: 'keep' };
  }
  const cleared: SlotRecord | undefined = s.queryFailures || s.invalidSince !== undefined ? { ...s, queryFailures: undefined, invalidSince: undefined } : undefined;
  switch (cls) {
    case 'waiting':
      return { kind: 'keep', ...(cleared ? { slot: cleared } : {}) };
    case 'running': {
      const startedAt = dashscopeTimeToIso(view.scheduledTime) ?? isoTime(now);
      return {
        kind: 'keep',
        ...(cleared ? { slot: cleared } : {}),
        version: (cur) => (follows(cur) && cur.state === 'SUBMITTED' ? { ...cur, state: 'RUNNING', startedAt, updatedAt: now } : undefined),
      };
    }
    case 'finished':
      return {
        kind: 'finish',
        version: (cur) =>
          follows(cur)
            ? {
                ...cur,
                state: 'FINALIZING',
                taskId: s.taskId,
                // DashScope's own clock for all three, so the times in a manifest are comparable.
                submittedAt: dashscopeTimeToIso(view.submitTime) ?? cur.submittedAt,
                startedAt: dashscopeTimeToIso(view.scheduledTime) ?? cur.startedAt,
                endedAt: dashscopeTimeToIso(view.endTime) ?? isoTime(now),
                updatedAt: now,
              }
            : undefined,
      };
    case 'lost':
      return lost(view.status === 'UNKNOWN' ? 'UNKNOWN' : (view.code ?? 'InternalError.Timeout'));
    case 'invalid': {
      const since = s.invalidSince ?? now;
      if (now - since >= INVALID_STATUS_LOST_MS) return lost(`an unreadable status (${JSON.stringify(view.status)}) for 24 h`);
      return { kind: 'keep', ...(s.invalidSince === undefined ? { slot: { ...s, invalidSince: now } } : {}), warn: `task status ${JSON.stringify(view.status)} is not one DashScope documents; still following it` };
    }
  }

  function lost(reason: string): QueryDecision {
    const guard = rules.guardLostRequeue ? follows : (cur: VersionRecord) => cur.id === s.versionId && !isTerminal(cur.state);
    const attempts = version?.attempts ?? 0;
    if (attempts >= config.maxAttempts) {
      return {
        kind: 'lost',
        reason,
        follows: guard,
        outcome: {
          status: 'FAILED',
          results: [],
          imageCount: 0,
          error: { code: 'TaskLost', message: `DashScope lost the task ${attempts} time(s) (last answer: ${reason}); use sketchflow retry, or upload the sketch again, to try again` },
        },
      };
    }
    return {
      kind: 'lost',
      reason,
      follows: guard,
      requeue: (cur) => (guard(cur) ? { ...cur, state: 'QUEUED', taskId: undefined, slot: undefined, claim: undefined, notBefore: undefined, updatedAt: now } : undefined),
    };
  }
}

