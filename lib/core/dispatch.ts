/**
 * Filling DashScope's slots (SPEC §4 invariants 2, 3, 6): the shell around the lifecycle's claim
 * and create decisions (lifecycle/transitions.ts). A submission needs, in this order: a free slot
 * of its model (conditional write on the slot row), the daily budget (images and CNY), and the
 * job itself (conditional QUEUED → SUBMITTING on the job row). Only the writer that wins all
 * three calls DashScope, so a version is sent at most once however many fillers race.
 */
import { ConditionFailedError, asError } from '../errors.js';
import { redact } from '../redact.js';
import { checkpoint, lifecycleCtx, type CoreDeps } from './deps.js';
import { completeVersion, failureOutcome } from './finalize.js';
import { budgetDay, budgetLimits, slotLayout, type Jobs } from './jobs.js';
import { logState } from './journal.js';
import { afterCreate, budgetNeverFits, budgetWaitReason, claim as claimFor, createDeadline, holdsClaim, leaseForCreate, unclaim } from './lifecycle/index.js';
import { costMilliCny, modelSpec } from '../models/index.js';
import { FREE_SLOT, modelOf, type PauseRecord, type SlotView, type VersionRecord } from './records.js';
import { stageSketch } from './staging.js';

export interface ModelFill {
  submitted: number;
  /** Valid queued versions seen but not submitted (backing off, or left for want of a slot or of
   *  the rate); not counted when every slot was busy from the start (the queue is not read then). */
  waiting: number;
  /** Why this model's queue did not move: nothing queued, no free slot, the rate, the budget, or an account pause. */
  blocked?: 'budget' | 'no-slot' | 'empty' | 'account' | 'rate';
  /** Free slots left after this pass. */
  free: number;
}

export interface FillResult {
  submitted: number;
  /** Queued versions worth looping for: those of models not blocked by the budget or a pause. */
  waiting: number;
  /** Why nothing moved, when every model says the same (else undefined). */
  blocked?: ModelFill['blocked'];
  byModel: Record<string, ModelFill>;
}

/** Whether a model has queued versions worth looping for and a free slot of its own. */
export function canSubmitNow(fill: FillResult | undefined, slots: SlotView[]): boolean {
  if (!fill) return false;
  return Object.entries(fill.byModel).some(
    ([model, f]) => f.waiting > 0 && f.blocked !== 'budget' && f.blocked !== 'account' && slots.some((s) => s.model === model && s.slot.state === 'free'),
  );
}

/** Claims made within this window count against a model's creates per second. */
const RATE_WINDOW_MS = 1000;

/**
 * Submits queued versions into free slots, model by model: each model has its own slots, FIFO,
 * rate and pause, so a backlog on one never holds back another (issue 16). Safe to run from any
 * instance at once. `models`: only these (a submit fills its own job's model).
 */
export async function fillSlots(deps: CoreDeps, jobs: Jobs, options: { maxSubmissions?: number; models?: readonly string[] } = {}): Promise<FillResult> {
  const layout = slotLayout(deps.config).filter((m) => !options.models || options.models.includes(m.model));
  const all = await jobs.readSlots(layout);
  const byModel: Record<string, ModelFill> = {};
  for (const { model, slots } of layout) {
    byModel[model] = await fillModel(deps, jobs, { model, slots }, all.filter((s) => s.model === model), options.maxSubmissions);
  }
  const fills = Object.values(byModel);
  const reasons = new Set(fills.map((f) => f.blocked));
  const submitted = fills.reduce((n, f) => n + f.submitted, 0);
  return {
    submitted,
    // Waiting on the budget or an account pause is not work to loop for: the timer comes back.
    waiting: fills.filter((f) => f.blocked !== 'budget' && f.blocked !== 'account').reduce((n, f) => n + f.waiting, 0),
    ...(reasons.size === 1 && submitted === 0 && fills[0]?.blocked ? { blocked: fills[0].blocked } : {}),
    byModel,
  };
}

/** One model's pass: its slots, its queue (oldest first), its rate, its pause. */
async function fillModel(deps: CoreDeps, jobs: Jobs, entry: { model: string; slots: number }, initial: SlotView[], maxSubmissions: number | undefined): Promise<ModelFill> {
  const { config, clock } = deps;
  const { model } = entry;
  const spec = modelSpec(model);
  const rules = lifecycleCtx(deps).rules;
  const limits = budgetLimits(config);
  let submitted = 0;
  let waiting = 0;
  let budgetBlocked = false;
  let slots = initial;
  let free = slots.filter((s) => s.slot.state === 'free');
  const done = (blocked?: ModelFill['blocked']): ModelFill => ({ submitted, waiting, ...(blocked ? { blocked } : {}), free: free.length });
  // With every slot busy there is nothing to fill: the queue is not read (most passes are these).
  if (free.length === 0) return done('no-slot');
  const queue = await jobs.peekQueue(model, free.length * 4 + 8);
  if (queue.length === 0) return done('empty');
  // The account was refused for this model: nothing goes until the pause ends, then one create probes it.
  const pause = await jobs.pause(model);
  if (pause && pause.retryAt > clock.now()) {
    waiting = queue.length;
    return done('account');
  }
  // The model's creates a second, across instances: claims of the last second are on the slot rows.
  const recent = (now: number) => slots.filter((s) => s.slot.state !== 'free' && (s.slot.acquiredAt ?? 0) > now - RATE_WINDOW_MS).length;
  const max = pause ? 1 : (maxSubmissions ?? entry.slots);
  for (const [position, q] of queue.entries()) {
    const now = clock.now();
    const rateLeft = spec.limits.createsPerSecond - recent(now);
    if (submitted >= max || free.length === 0 || rateLeft <= 0) {
      waiting += queue.length - position;
      return done(free.length === 0 ? 'no-slot' : rateLeft <= 0 ? 'rate' : undefined);
    }
    const row = await jobs.getJob(q.value.jobId);
    const v = row?.value.current;
    if (!row || !v || v.id !== q.value.versionId || v.state !== 'QUEUED') {
      await jobs.dequeue(q.id); // stale hint: the version moved on
      continue;
    }
    if (v.notBefore && v.notBefore > now) {
      waiting++;
      continue;
    }
    const n = v.request?.parameters.n ?? 1;
    const amount = { images: n, milliCny: costMilliCny(spec, n) };
    const never = budgetNeverFits(amount, limits, model);
    if (never) {
      // It could never be sent, and would hold everyone behind it (issue 13 run 9).
      await completeVersion(deps, jobs, q.value.jobId, v.id, failureOutcome(never));
      continue;
    }
    const day = budgetDay(now);
    const over = await jobs.reserveBudget(day, amount, limits);
    if (over !== 'ok') {
      const waitingFor = budgetWaitReason(over, limits, day);
      if (v.waitingFor !== waitingFor) await jobs.updateVersion(q.value.jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor } : undefined));
      budgetBlocked = true;
      // A smaller job behind it may still fit today (only the one that does not fit waits).
      if (!rules.budgetSkipsAhead) {
        waiting += queue.length - position;
        return done('budget');
      }
      continue;
    }
    const target = free.shift()!;
    const claimed = claimFor(v, { jobId: q.value.jobId, jobKey: row.value.jobKey, index: target.index, owner: deps.owner, images: n, milliCny: amount.milliCny, budgetDay: day }, { now, config });
    let slotRev: number;
    try {
      slotRev = await jobs.putSlot(target, target.rev, claimed.slot);
    } catch (err) {
      await jobs.refundBudget(day, amount, limits);
      if (!(err instanceof ConditionFailedError)) throw err;
      slots = await jobs.readSlots([entry]); // someone else took it: look again
      free = slots.filter((s) => s.slot.state === 'free');
      continue;
    }
    slots = slots.map((s) => (s.index === target.index ? { ...s, rev: slotRev, slot: claimed.slot } : s));
    await checkpoint(deps, 'dispatch:slot-claimed', row.value.jobKey);
    // Claim the job: only one filler moves a version out of QUEUED.
    try {
      await jobs.putJob(q.value.jobId, { ...row.value, current: claimed.version }, row.rev);
    } catch (err) {
      await jobs.putSlot(target, slotRev, FREE_SLOT).catch(() => undefined); // a reconciler may own it already
      await jobs.refundBudget(day, amount, limits);
      if (!(err instanceof ConditionFailedError)) throw err;
      continue;
    }
    await jobs.dequeue(q.id);
    await checkpoint(deps, 'dispatch:job-claimed', row.value.jobKey);
    const slot = { model, index: target.index, rev: slotRev, slot: claimed.slot };
    if (await submitTask(deps, jobs, { jobKey: row.value.jobKey, jobId: q.value.jobId, v: claimed.version, slot }, pause)) submitted++;
    else waiting++; // refused (back in the queue) or outcome unknown (reconciliation follows)
  }
  return done(budgetBlocked && submitted === 0 ? 'budget' : undefined);
}

/** A version this filler won: its job row says SUBMITTING and it holds `slot` at `rev`. */
interface Claim {
  jobKey: string;
  jobId: string;
  v: VersionRecord;
  slot: SlotView;
}

/**
 * Calls DashScope for a claimed version and applies the lifecycle's reading of the reply.
 * Returns true when a task exists. The lease starts just before the create, and the create is
 * aborted at its deadline, so a holder never outlives its lease while a create may be in flight.
 */
async function submitTask(deps: CoreDeps, jobs: Jobs, claim: Claim, pause: PauseRecord | undefined): Promise<boolean> {
  const { config, clock } = deps;
  const { jobKey, jobId, v } = claim;
  let slot = claim.slot;
  const request = v.request!;
  const sketchUrl = await deps.objects.presignGet(await stageSketch(deps, jobId, v), config.sketchUrlTtlSeconds, request.process);
  const ctx = lifecycleCtx(deps);
  let deadline: ReturnType<typeof clock.deadline> | undefined;
  if (ctx.rules.leaseBeforeCreate) {
    // The images count on the day the create is sent: a claim made before midnight and sent after
    // moves its reservation to the new day, or waits for that day's budget.
    const limits = budgetLimits(config);
    const today = budgetDay(ctx.now);
    let claimed = slot.slot;
    const amount = { images: claimed.images ?? 0, milliCny: claimed.milliCny ?? 0 };
    if ((limits.images > 0 || limits.milliCny > 0) && claimed.budgetDay && claimed.budgetDay !== today) {
      const over = await jobs.reserveBudget(today, amount, limits);
      await jobs.refundBudget(claimed.budgetDay, amount, limits);
      if (over !== 'ok') {
        const updated = await jobs.updateVersion(jobId, v.id, unclaim(claimed, budgetWaitReason(over, limits, today), ctx.now));
        if (updated) {
          await jobs.enqueue(updated.job.current.queuedAt ?? ctx.now, { jobId, jobKey, versionId: v.id, model: slot.model });
          logState(deps, jobKey, updated.job.current, { reason: 'the day changed before the create; its budget is used up' });
        }
        await jobs.putSlot(slot, slot.rev, FREE_SLOT).catch((err: unknown) => {
          if (!(err instanceof ConditionFailedError)) throw err;
        });
        return false;
      }
      claimed = { ...claimed, budgetDay: today };
    }
    // A claim that was slow to get here may hold a version a newer upload has replaced since:
    // such a version is not sent (its slot and budget go back).
    const current = (await jobs.getJob(jobId))?.value.current;
    if (!current || !holdsClaim(current, claimed)) {
      deps.log.info('not sent: the version moved on before its create', { jobKey, version: v.id, state: current?.state, slot: slot.index });
      await refund(jobs, { ...slot, slot: claimed }, config);
      await jobs.putSlot(slot, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    const renewed = leaseForCreate(claimed, ctx);
    try {
      slot = { ...slot, rev: await jobs.putSlot(slot, slot.rev, renewed), slot: renewed };
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
      // Reconciliation took the slot while we were slow: it decides; we must not create now.
      // Nothing was sent, so the images go back (reconciliation cannot know that).
      deps.log.warn('slot taken over before the create; not sent', { jobKey, version: v.id, state: 'SUBMITTING', slot: slot.index });
      await refund(jobs, { ...slot, slot: renewed }, config);
      return false;
    }
    // The lease runs from when it was written, not from when the write's answer came back: a slow
    // answer can eat the create's whole window, and then reconciliation may already own the slot.
    // And the images count on the day the create is sent: a write that crossed midnight sends
    // nothing now (reconciliation requeues it; the next claim reserves on the new day).
    const left = createDeadline(ctx.now, config) - clock.now();
    if (left <= 0 || ((limits.images > 0 || limits.milliCny > 0) && budgetDay(clock.now()) !== renewed.budgetDay)) {
      deps.log.warn('not sent: the lease ran out, or the day changed, before the create', { jobKey, version: v.id, state: 'SUBMITTING', slot: slot.index });
      await refund(jobs, slot, config);
      return false;
    }
    deadline = clock.deadline(left);
  }
  logState(deps, jobKey, v, { slot: slot.index });
  let reply: { taskId: string } | { error: unknown };
  try {
    reply = { taskId: (await deps.model.createTask({ model: modelOf(v), prompt: request.prompt, sketchUrl, parameters: request.parameters }, deadline ? { signal: deadline.signal } : {})).taskId };
  } catch (err) {
    reply = { error: err };
  } finally {
    deadline?.clear();
  }
  const decision = afterCreate(slot, reply, { ...lifecycleCtx(deps), ...(pause ? { pause } : {}) });
  switch (decision.kind) {
    case 'created': {
      await checkpoint(deps, 'dispatch:task-created', jobKey);
      const now = clock.now();
      // First the record reconciliation looks for by attempt, then the one it looks for by task.
      await jobs.recordAttempt(jobId, v.id, slot.slot.claim!, decision.taskId, now);
      await jobs.recordTask(decision.taskId, { jobId, jobKey, versionId: v.id, createdAt: now });
      await checkpoint(deps, 'dispatch:task-recorded', jobKey);
      try {
        await jobs.putSlot(slot, slot.rev, decision.slot);
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
        // Reconciled meanwhile: it found this attempt's task by its attempt row, or holds it.
        deps.log.warn('slot taken over after the create; reconciliation follows the task', { jobKey, version: v.id, state: 'SUBMITTING', taskId: decision.taskId });
        return true;
      }
      await checkpoint(deps, 'dispatch:slot-recorded', jobKey);
      const updated = await jobs.updateVersion(jobId, v.id, decision.version);
      if (updated) logState(deps, jobKey, updated.job.current, { slot: slot.index });
      if (pause) {
        await jobs.clearPause(slot.model).catch(() => undefined);
        deps.log.info('submission resumed: DashScope accepted the account again', { model: slot.model, pausedSince: new Date(pause.since).toISOString() });
      }
      return true;
    }
    case 'unknown': {
      // The task may exist: hand the slot to reconciliation at once (lease ends now).
      deps.log.warn('submission outcome unknown', { jobKey, version: v.id, state: 'SUBMITTING', error: asError((reply as { error: unknown }).error) });
      await jobs.putSlot(slot, slot.rev, decision.slot).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    case 'requeue': {
      const error = asError((reply as { error: unknown }).error);
      await refund(jobs, slot, config);
      if (decision.pause) {
        await jobs.setPause(slot.model, decision.pause);
        deps.log.error('submission paused: DashScope refused the account', {
          model: slot.model,
          code: decision.pause.code,
          message: redact(decision.pause.message),
          retryAt: new Date(decision.pause.retryAt).toISOString(),
        });
      }
      const updated = await jobs.updateVersion(jobId, v.id, decision.version);
      if (updated) {
        const now = clock.now();
        await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId, jobKey, versionId: v.id, model: slot.model });
        const retryInMs = decision.pause ? decision.retryInMs : Math.max(0, (updated.job.current.notBefore ?? now) - now);
        logState(deps, jobKey, updated.job.current, { refused: (error as { code?: string }).code ?? error.name, retryInMs, ...(decision.cls === 'account' ? { paused: true } : {}) });
      }
      await jobs.putSlot(slot, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    case 'fail': {
      await refund(jobs, slot, config);
      await jobs.putSlot(slot, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      await completeVersion(deps, jobs, jobId, v.id, failureOutcome({ code: decision.error.code, message: redact(decision.error.message) }));
      return false;
    }
  }
}

/** Gives back what the slot's claim reserved (only when nothing reached DashScope). */
function refund(jobs: Jobs, slot: SlotView, config: CoreDeps['config']): Promise<void> {
  return jobs.refundBudget(slot.slot.budgetDay ?? '', { images: slot.slot.images ?? 0, milliCny: slot.slot.milliCny ?? 0 }, budgetLimits(config));
}
