/**
 * Filling DashScope's slots (SPEC §4 invariants 2, 3, 6). A submission needs, in this order:
 * a free slot (conditional write on the slot row), the daily budget, and the job itself
 * (conditional QUEUED → SUBMITTING on the job row). Only the writer that wins all three calls
 * DashScope, so a version is sent at most once however many fillers race.
 */
import { ConditionFailedError, dispositionOf, TransportError, asError } from '../errors.js';
import { redact } from '../redact.js';
import { checkpoint, type CoreDeps } from './deps.js';
import { completeVersion, failureOutcome, isoTime } from './finalize.js';
import { budgetDay, type Jobs } from './jobs.js';
import type { Config } from '../config.js';
import { logState } from './journal.js';
import { FREE_SLOT, type SlotRecord, type VersionRecord } from './records.js';

const MAX_BACKOFF_MS = 60_000;

/**
 * How long a slot may stay 'submitting' before its holder is presumed dead: longer than a create
 * call can take (its timeout), so a live submitter is never reconciled under its feet.
 */
export function submitLeaseMs(config: Pick<Config, 'dashscope'>): number {
  return 2 * config.dashscope.timeoutMs + 1000;
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

export interface FillResult {
  submitted: number;
  /** Valid queued versions seen but not submitted (backing off, or left for want of a slot); not
   *  counted when every slot was busy from the start (the queue is not read then). */
  waiting: number;
  blocked?: 'budget' | 'no-slot' | 'empty';
}

/** Submits queued versions (oldest first) into free slots. Safe to run from any instance at once. */
export async function fillSlots(deps: CoreDeps, jobs: Jobs, options: { maxSubmissions?: number } = {}): Promise<FillResult> {
  const { config, clock } = deps;
  const max = options.maxSubmissions ?? config.maxInFlight;
  let submitted = 0;
  let waiting = 0;
  let slots = await jobs.readSlots(config.maxInFlight);
  let free = slots.filter((s) => s.slot.state === 'free');
  // With every slot busy there is nothing to fill: the queue is not read (most passes are these).
  if (free.length === 0) return { submitted, waiting, blocked: 'no-slot' };
  const queue = await jobs.peekQueue(free.length * 4 + 8);
  if (queue.length === 0) return { submitted, waiting, blocked: 'empty' };
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
    const day = budgetDay(now);
    if (!(await jobs.reserveImages(day, n, config.maxImagesPerDay))) {
      const waitingFor = `the daily image budget (MAX_IMAGES_PER_DAY=${config.maxImagesPerDay}) is used up for ${day}; it resumes after midnight Asia/Shanghai`;
      if (v.waitingFor !== waitingFor) await jobs.updateVersion(entry.value.jobId, v.id, (cur) => ({ ...cur, waitingFor }));
      return { submitted, waiting: waiting + queue.length - position, blocked: 'budget' };
    }
    const target = free.shift()!;
    const claim: SlotRecord = {
      state: 'submitting',
      jobId: entry.value.jobId,
      jobKey: row.value.jobKey,
      versionId: v.id,
      acquiredAt: now,
      leaseUntil: now + submitLeaseMs(config),
      owner: deps.owner,
      images: n,
      budgetDay: day,
      attempt: v.attempts + 1,
    };
    let slotRev: number;
    try {
      slotRev = await jobs.putSlot(target.index, target.rev, claim);
    } catch (err) {
      await jobs.refundImages(day, n, config.maxImagesPerDay);
      if (!(err instanceof ConditionFailedError)) throw err;
      slots = await jobs.readSlots(config.maxInFlight); // someone else took it: look again
      free = slots.filter((s) => s.slot.state === 'free');
      continue;
    }
    await checkpoint(deps, 'dispatch:slot-claimed', row.value.jobKey);
    // Claim the job: only one filler moves a version out of QUEUED.
    let claimed: VersionRecord | undefined = { ...v, state: 'SUBMITTING', attempts: v.attempts + 1, slot: target.index, waitingFor: undefined, updatedAt: now };
    try {
      await jobs.putJob(entry.value.jobId, { ...row.value, current: claimed }, row.rev);
    } catch (err) {
      claimed = undefined;
      if (!(err instanceof ConditionFailedError)) throw err;
    }
    if (!claimed) {
      await jobs.putSlot(target.index, slotRev, FREE_SLOT);
      await jobs.refundImages(day, n, config.maxImagesPerDay);
      continue;
    }
    await jobs.dequeue(entry.id);
    await checkpoint(deps, 'dispatch:job-claimed', row.value.jobKey);
    if (await submitTask(deps, jobs, { jobKey: row.value.jobKey, jobId: entry.value.jobId, v: claimed, slot: { index: target.index, rev: slotRev, slot: claim } })) submitted++;
    else waiting++; // refused (back in the queue) or outcome unknown (reconciliation follows)
  }
  return { submitted, waiting };
}

/** A version this filler won: its job row says SUBMITTING and it holds `slot` at `rev`. */
interface Claim {
  jobKey: string;
  jobId: string;
  v: VersionRecord;
  slot: { index: number; rev: number; slot: SlotRecord };
}

/**
 * Calls DashScope for a claimed version and records the outcome. Returns true when a task exists.
 * A reply we never saw (timeout, reset) leaves the slot 'submitting' for reconciliation: the
 * task may exist, and sending again could pay twice.
 */
async function submitTask(deps: CoreDeps, jobs: Jobs, claim: Claim): Promise<boolean> {
  const { config, clock } = deps;
  const { jobKey, jobId, v, slot } = claim;
  const request = v.request!;
  const sketchUrl = await deps.objects.presignGet(v.sketch.key, config.sketchUrlTtlSeconds, request.process);
  logState(deps, jobKey, v, { slot: slot.index });
  let taskId: string;
  try {
    ({ taskId } = await deps.model.createTask({ prompt: request.prompt, sketchUrl, parameters: request.parameters }));
  } catch (err) {
    return handleRefusal(deps, jobs, claim, err);
  }
  await checkpoint(deps, 'dispatch:task-created', jobKey);
  const now = clock.now();
  // First the record reconciliation looks for by attempt, then the one it looks for by task.
  await jobs.recordAttempt(jobId, v.id, v.attempts, taskId, now);
  await jobs.recordTask(taskId, { jobId, jobKey, versionId: v.id, createdAt: now });
  await checkpoint(deps, 'dispatch:task-recorded', jobKey);
  await jobs.putSlot(slot.index, slot.rev, { ...slot.slot, state: 'inflight', taskId, leaseUntil: undefined });
  await checkpoint(deps, 'dispatch:slot-recorded', jobKey);
  const updated = await jobs.updateVersion(jobId, v.id, (cur) =>
    cur.state === 'SUBMITTING' ? { ...cur, state: 'SUBMITTED', taskId, submittedAt: isoTime(now), refusals: 0, notBefore: undefined, updatedAt: now } : undefined,
  );
  if (updated) logState(deps, jobKey, updated.job.current, { slot: slot.index });
  return true;
}

async function handleRefusal(deps: CoreDeps, jobs: Jobs, claim: Claim, err: unknown): Promise<boolean> {
  const { config, clock } = deps;
  const { jobKey, jobId, v, slot } = claim;
  const error = asError(err);
  const disposition = dispositionOf(err);
  if (err instanceof TransportError && err.sent) {
    // Unknown outcome: hand the slot to reconciliation right away (see reconcile.ts).
    deps.log.warn('submission outcome unknown', { jobKey, version: v.id, state: 'SUBMITTING', error });
    await jobs.putSlot(slot.index, slot.rev, { ...slot.slot, leaseUntil: clock.now() });
    return false;
  }
  await jobs.refundImages(slot.slot.budgetDay ?? '', slot.slot.images ?? 0, config.maxImagesPerDay);
  const now = clock.now();
  if (disposition === 'terminal') {
    const code = 'code' in error && typeof error.code === 'string' ? error.code : 'SubmitFailed';
    await jobs.putSlot(slot.index, slot.rev, FREE_SLOT);
    await completeVersion(deps, jobs, jobId, v.id, failureOutcome({ code, message: redact(error.message) }));
    return false;
  }
  // Throttled or transient, and DashScope created nothing: back in line, same place, later.
  const refusals = (v.refusals ?? 0) + 1;
  const notBefore = now + backoffMs(refusals, config.pollIntervalMs, deps.random);
  const updated = await jobs.updateVersion(jobId, v.id, (cur) =>
    cur.state === 'SUBMITTING' ? { ...cur, state: 'QUEUED', attempts: Math.max(0, cur.attempts - 1), refusals, notBefore, slot: undefined, updatedAt: now } : undefined,
  );
  if (updated) {
    await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId, jobKey, versionId: v.id });
    logState(deps, jobKey, updated.job.current, { refused: (error as { code?: string }).code ?? error.name, retryInMs: notBefore - now });
  }
  await jobs.putSlot(slot.index, slot.rev, FREE_SLOT);
  return false;
}

