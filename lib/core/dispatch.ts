/**
 * Filling DashScope's slots (SPEC §4 invariants 2, 3, 6): the shell around the lifecycle's claim
 * and create decisions (lifecycle/transitions.ts). A submission needs, in this order: a free slot
 * (conditional write on the slot row), the daily budget, and the job itself (conditional
 * QUEUED → SUBMITTING on the job row). Only the writer that wins all three calls DashScope, so a
 * version is sent at most once however many fillers race.
 */
import { ConditionFailedError, asError } from '../errors.js';
import { redact } from '../redact.js';
import { checkpoint, lifecycleCtx, type CoreDeps } from './deps.js';
import { completeVersion, failureOutcome } from './finalize.js';
import { budgetDay, type Jobs } from './jobs.js';
import { logState } from './journal.js';
import { afterCreate, budgetNeverFits, budgetWaitReason, claim as claimFor, createDeadline, holdsClaim, leaseForCreate, unclaim } from './lifecycle/index.js';
import { FREE_SLOT, type PauseRecord, type SlotView, type VersionRecord } from './records.js';
import { stageSketch } from './staging.js';

export interface FillResult {
  submitted: number;
  /** Valid queued versions seen but not submitted (backing off, or left for want of a slot); not
   *  counted when every slot was busy from the start (the queue is not read then). */
  waiting: number;
  /** Why the queue did not move: nothing queued, no free slot, the budget, or an account pause. */
  blocked?: 'budget' | 'no-slot' | 'empty' | 'account';
}

/** Submits queued versions (oldest first) into free slots. Safe to run from any instance at once. */
export async function fillSlots(deps: CoreDeps, jobs: Jobs, options: { maxSubmissions?: number } = {}): Promise<FillResult> {
  const { config, clock } = deps;
  const rules = lifecycleCtx(deps).rules;
  let submitted = 0;
  let waiting = 0;
  let budgetBlocked = false;
  let slots = await jobs.readSlots(config.maxInFlight);
  let free = slots.filter((s) => s.slot.state === 'free');
  // With every slot busy there is nothing to fill: the queue is not read (most passes are these).
  if (free.length === 0) return { submitted, waiting, blocked: 'no-slot' };
  const queue = await jobs.peekQueue(free.length * 4 + 8);
  if (queue.length === 0) return { submitted, waiting, blocked: 'empty' };
  // The account was refused: nothing goes until the pause ends, then one create probes it.
  const pause = await jobs.pause();
  if (pause && pause.retryAt > clock.now()) return { submitted, waiting: queue.length, blocked: 'account' };
  const max = pause ? 1 : (options.maxSubmissions ?? config.maxInFlight);
  for (const [position, entry] of queue.entries()) {
    if (submitted >= max || free.length === 0) {
      waiting += queue.length - position;
      return { submitted, waiting, blocked: free.length === 0 ? 'no-slot' : undefined };
    }
    const now = clock.now();
    const row = await jobs.getJob(entry.value.jobId);
    const v = row?.value.current;
    if (!row || !v || v.id !== entry.value.versionId || v.state !== 'QUEUED') {
      await jobs.dequeue(entry.id); // stale hint: the version moved on
      continue;
    }
    if (v.notBefore && v.notBefore > now) {
      waiting++;
      continue;
    }
    const n = v.request?.parameters.n ?? 1;
    if (config.maxImagesPerDay > 0 && n > config.maxImagesPerDay) {
      // It could never be sent, and would hold everyone behind it (issue 13 run 9).
      await completeVersion(deps, jobs, entry.value.jobId, v.id, failureOutcome(budgetNeverFits(n, config.maxImagesPerDay)));
      continue;
    }
    const day = budgetDay(now);
    if (!(await jobs.reserveImages(day, n, config.maxImagesPerDay))) {
      const waitingFor = budgetWaitReason(config.maxImagesPerDay, day);
      if (v.waitingFor !== waitingFor) await jobs.updateVersion(entry.value.jobId, v.id, (cur) => (cur.state === 'QUEUED' ? { ...cur, waitingFor } : undefined));
      budgetBlocked = true;
      // A smaller job behind it may still fit today (only the one that does not fit waits).
      if (!rules.budgetSkipsAhead) return { submitted, waiting: waiting + queue.length - position, blocked: 'budget' };
      continue;
    }
    const target = free.shift()!;
    const claimed = claimFor(v, { jobId: entry.value.jobId, jobKey: row.value.jobKey, index: target.index, owner: deps.owner, images: n, budgetDay: day }, { now, config });
    let slotRev: number;
    try {
      slotRev = await jobs.putSlot(target.index, target.rev, claimed.slot);
    } catch (err) {
      await jobs.refundImages(day, n, config.maxImagesPerDay);
      if (!(err instanceof ConditionFailedError)) throw err;
      slots = await jobs.readSlots(config.maxInFlight); // someone else took it: look again
      free = slots.filter((s) => s.slot.state === 'free');
      continue;
    }
    await checkpoint(deps, 'dispatch:slot-claimed', row.value.jobKey);
    // Claim the job: only one filler moves a version out of QUEUED.
    try {
      await jobs.putJob(entry.value.jobId, { ...row.value, current: claimed.version }, row.rev);
    } catch (err) {
      await jobs.putSlot(target.index, slotRev, FREE_SLOT).catch(() => undefined); // a reconciler may own it already
      await jobs.refundImages(day, n, config.maxImagesPerDay);
      if (!(err instanceof ConditionFailedError)) throw err;
      continue;
    }
    await jobs.dequeue(entry.id);
    await checkpoint(deps, 'dispatch:job-claimed', row.value.jobKey);
    const slot = { index: target.index, rev: slotRev, slot: claimed.slot };
    if (await submitTask(deps, jobs, { jobKey: row.value.jobKey, jobId: entry.value.jobId, v: claimed.version, slot }, pause)) submitted++;
    else waiting++; // refused (back in the queue) or outcome unknown (reconciliation follows)
  }
  return { submitted, waiting, ...(budgetBlocked && submitted === 0 ? { blocked: 'budget' as const } : {}) };
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
    const today = budgetDay(ctx.now);
    const images = slot.slot.images ?? 0;
    let claimed = slot.slot;
    if (config.maxImagesPerDay > 0 && claimed.budgetDay && claimed.budgetDay !== today) {
      if (!(await jobs.reserveImages(today, images, config.maxImagesPerDay))) {
        await jobs.refundImages(claimed.budgetDay, images, config.maxImagesPerDay);
        const updated = await jobs.updateVersion(jobId, v.id, unclaim(claimed, budgetWaitReason(config.maxImagesPerDay, today), ctx.now));
        if (updated) {
          await jobs.enqueue(updated.job.current.queuedAt ?? ctx.now, { jobId, jobKey, versionId: v.id });
          logState(deps, jobKey, updated.job.current, { reason: 'the day changed before the create; its budget is used up' });
        }
        await jobs.putSlot(slot.index, slot.rev, FREE_SLOT).catch((err: unknown) => {
          if (!(err instanceof ConditionFailedError)) throw err;
        });
        return false;
      }
      await jobs.refundImages(claimed.budgetDay, images, config.maxImagesPerDay);
      claimed = { ...claimed, budgetDay: today };
    }
    // A claim that was slow to get here may hold a version a newer upload has replaced since:
    // such a version is not sent (its slot and images go back).
    const current = (await jobs.getJob(jobId))?.value.current;
    if (!current || !holdsClaim(current, claimed)) {
      deps.log.info('not sent: the version moved on before its create', { jobKey, version: v.id, state: current?.state, slot: slot.index });
      await jobs.refundImages(claimed.budgetDay ?? '', claimed.images ?? 0, config.maxImagesPerDay);
      await jobs.putSlot(slot.index, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    const renewed = leaseForCreate(claimed, ctx);
    try {
      slot = { ...slot, rev: await jobs.putSlot(slot.index, slot.rev, renewed), slot: renewed };
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
      // Reconciliation took the slot while we were slow: it decides; we must not create now.
      // Nothing was sent, so the images go back (reconciliation cannot know that).
      deps.log.warn('slot taken over before the create; not sent', { jobKey, version: v.id, state: 'SUBMITTING', slot: slot.index });
      await jobs.refundImages(renewed.budgetDay ?? '', renewed.images ?? 0, config.maxImagesPerDay);
      return false;
    }
    // The lease runs from when it was written, not from when the write's answer came back: a slow
    // answer can eat the create's whole window, and then reconciliation may already own the slot.
    // And the images count on the day the create is sent: a write that crossed midnight sends
    // nothing now (reconciliation requeues it; the next claim reserves on the new day).
    const left = createDeadline(ctx.now, config) - clock.now();
    if (left <= 0 || (config.maxImagesPerDay > 0 && budgetDay(clock.now()) !== renewed.budgetDay)) {
      deps.log.warn('not sent: the lease ran out, or the day changed, before the create', { jobKey, version: v.id, state: 'SUBMITTING', slot: slot.index });
      await jobs.refundImages(renewed.budgetDay ?? '', renewed.images ?? 0, config.maxImagesPerDay);
      return false;
    }
    deadline = clock.deadline(left);
  }
  logState(deps, jobKey, v, { slot: slot.index });
  let reply: { taskId: string } | { error: unknown };
  try {
    reply = { taskId: (await deps.model.createTask({ prompt: request.prompt, sketchUrl, parameters: request.parameters }, deadline ? { signal: deadline.signal } : {})).taskId };
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
        await jobs.putSlot(slot.index, slot.rev, decision.slot);
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
        await jobs.clearPause().catch(() => undefined);
        deps.log.info('submission resumed: DashScope accepted the account again', { pausedSince: new Date(pause.since).toISOString() });
      }
      return true;
    }
    case 'unknown': {
      // The task may exist: hand the slot to reconciliation at once (lease ends now).
      deps.log.warn('submission outcome unknown', { jobKey, version: v.id, state: 'SUBMITTING', error: asError((reply as { error: unknown }).error) });
      await jobs.putSlot(slot.index, slot.rev, decision.slot).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    case 'requeue': {
      const error = asError((reply as { error: unknown }).error);
      await jobs.refundImages(slot.slot.budgetDay ?? '', slot.slot.images ?? 0, config.maxImagesPerDay);
      if (decision.pause) {
        await jobs.setPause(decision.pause);
        deps.log.error('submission paused: DashScope refused the account', {
          code: decision.pause.code,
          message: redact(decision.pause.message),
          retryAt: new Date(decision.pause.retryAt).toISOString(),
        });
      }
      const updated = await jobs.updateVersion(jobId, v.id, decision.version);
      if (updated) {
        const now = clock.now();
        await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId, jobKey, versionId: v.id });
        const retryInMs = decision.pause ? decision.retryInMs : Math.max(0, (updated.job.current.notBefore ?? now) - now);
        logState(deps, jobKey, updated.job.current, { refused: (error as { code?: string }).code ?? error.name, retryInMs, ...(decision.cls === 'account' ? { paused: true } : {}) });
      }
      await jobs.putSlot(slot.index, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      return false;
    }
    case 'fail': {
      await jobs.refundImages(slot.slot.budgetDay ?? '', slot.slot.images ?? 0, config.maxImagesPerDay);
      await jobs.putSlot(slot.index, slot.rev, FREE_SLOT).catch((err: unknown) => {
        if (!(err instanceof ConditionFailedError)) throw err;
      });
      await completeVersion(deps, jobs, jobId, v.id, failureOutcome({ code: decision.error.code, message: redact(decision.error.message) }));
      return false;
    }
  }
}
