/**
 * Slots left 'submitting' past their lease: the holder died or stalled around the create call, so
 * DashScope may or may not have the task (SPEC §4.2 case a). Once per poller pass, all such slots
 * are reconciled together (issue 13 run 1):
 *
 * 1. A slot whose attempt recorded its task (`attempt/` row, written the moment the create
 *    returned) adopts that task: exact, whatever state it is in.
 * 2. For the rest, one listing of the account's PENDING and RUNNING tasks (every model's) is read,
 *    and only then the slots: a create still in flight is then visible as another slot of its
 *    model, and that model waits for it (its task would look orphaned); so does a model whose
 *    slot expired after the first read (a create answered ambiguously meanwhile): the next pass
 *    reconciles that slot with its task. The slots
 *    the listing left unexplained are matched, model by model, with the tasks of that model no row
 *    or slot of ours knows, by the pure `matchOrphansPerModel` (lifecycle).
 *
 * Assumes sketchflow is the only user of the model in the account, and that the listing shows a
 * task as soon as its create has returned (README "What we assume"); a create in flight is
 * aborted at its deadline, a timeout before its lease ends, so it has returned by then.
 */
import { asError, ConditionFailedError } from '../errors.js';
import { isoTime } from '../contract/dashscope-time.js';
import { lifecycleCtx, type CoreDeps } from './deps.js';
import { slotLayout, type Jobs } from './jobs.js';
import { logState } from './journal.js';
import { holdsClaim, matchOrphansPerModel } from './lifecycle/index.js';
import type { TaskSummary } from './ports.js';
import { FREE_SLOT, type SlotRecord, type SlotView, type VersionRecord } from './records.js';

/** If the task list cannot be read for this long, give the slot back and resubmit. */
const ORPHAN_HOLD_MS = 10 * 60_000;
/** How long a slot is held while the task list cannot be read. */
const LIST_RETRY_MS = 30_000;

/** A slot as read at one revision: a slot rewritten since is another claim. */
const slotIdentity = (s: SlotView) => `${s.model}/${s.index}@${String(s.rev)}`;

const expiredAt = (s: SlotView, now: number) => s.slot.state === 'submitting' && (s.slot.leaseUntil ?? 0) <= now;

/** Reconciles every expired 'submitting' slot in `slots`. Returns how many slots were freed. */
export async function reconcileExpired(deps: CoreDeps, jobs: Jobs, slots: SlotView[]): Promise<number> {
  const { config, clock } = deps;
  const now = clock.now();
  const expired = slots.filter((s) => expiredAt(s, now)).sort((a, b) => (a.slot.acquiredAt ?? 0) - (b.slot.acquiredAt ?? 0));
  if (expired.length === 0) return 0;
  const unrecorded = await adoptRecorded(deps, jobs, expired);
  if (unrecorded.length === 0) return 0;

  let listed: TaskSummary[];
  try {
    listed = await deps.model.listLiveTasks();
  } catch (err) {
    deps.log.warn('task list unavailable; holding the slots', { slots: unrecorded.map((s) => s.index), error: asError(err) });
    let freed = 0;
    for (const s of unrecorded) {
      if (now - (s.slot.acquiredAt ?? now) < ORPHAN_HOLD_MS) await putSlot(jobs, s, { ...s.slot, leaseUntil: now + LIST_RETRY_MS });
      else if (await requeueAndFree(deps, jobs, s, 'the task list could not be read for 10 minutes')) freed++;
    }
    return freed;
  }
  // Read after the listing: any create that could have made a listed task now shows its slot.
  // A model with a 'submitting' slot this pass does not reconcile waits (its task would look
  // orphaned): a create still in flight, or one whose outcome came back unknown after the first
  // read, whose slot the next pass reconciles with that task. The other models go on.
  const fresh = await jobs.readSlots(slotLayout(config));
  const reconciling = new Set(unrecorded.map(slotIdentity));
  const busyModels = new Set(fresh.filter((o) => o.slot.state === 'submitting' && !reconciling.has(slotIdentity(o))).map((o) => o.model));
  const models = config.models.filter((m) => !busyModels.has(m));
  const still = unrecorded
    .filter((s) => !busyModels.has(s.model))
    .map((s) => fresh.find((f) => f.model === s.model && f.index === s.index && f.rev === s.rev))
    .filter((s): s is SlotView => s !== undefined);
  // A holder may have recorded its task meanwhile: that is exact, so take it first.
  const open = await adoptRecorded(deps, jobs, still);
  if (open.length === 0) return 0;

  const known = await jobs.knownTasks(listed.map((t) => t.taskId));
  for (const o of fresh) if (o.slot.taskId) known.add(o.slot.taskId);
  // Only our models' tasks can be ours (another application may use other models of the account);
  // a task the listing gives no model can only be attributed when one model is configured.
  const only = config.models.length === 1 ? config.models[0] : undefined;
  const unknown = listed
    .filter((t) => !known.has(t.taskId))
    .map((t) => (t.model === undefined && only ? { ...t, model: only } : t))
    .filter((t) => t.model === undefined || models.includes(t.model))
    .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  const free = fresh.filter((s) => s.slot.state === 'free' && models.includes(s.model));
  const plan = matchOrphansPerModel({ expired: open, unknown, free, models }, lifecycleCtx(deps).rules.matchOrphans);

  let freed = 0;
  for (const { slot, task } of plan.adopt) await adopt(deps, jobs, slot, task, 'the only orphaned task');
  for (const { slot, task, requeue } of plan.hold) {
    // Keep the in-flight bound: this slot follows the orphan (trackSlot cancels it if PENDING).
    deps.log.warn('holding an orphaned task', { jobKey: slot.slot.jobKey, taskId: task.taskId, candidates: unknown.length });
    // The slot first: if another invocation changed it meanwhile, it decides, and the version stays.
    if (!(await putSlot(jobs, slot, { state: 'inflight', taskId: task.taskId, orphan: true, acquiredAt: now }))) continue;
    if (requeue) await requeueSubmitting(deps, jobs, slot, 'its task could not be told apart from another orphaned one');
  }
  for (const slot of plan.requeue) if (await requeueAndFree(deps, jobs, slot, 'the submission did not reach DashScope')) freed++;
  if (plan.unheld.length > 0) deps.log.error('live tasks no slot can hold: is another application using this account?', { taskIds: plan.unheld.map((t) => t.taskId) });
  return freed;
}

/** Adopts the recorded task of each slot whose attempt has one; returns the others. */
async function adoptRecorded(deps: CoreDeps, jobs: Jobs, slots: SlotView[]): Promise<SlotView[]> {
  const rest: SlotView[] = [];
  for (const s of slots) {
    const recorded = s.slot.claim !== undefined && s.slot.jobId ? await jobs.attemptTask(s.slot.jobId, s.slot.versionId!, s.slot.claim) : undefined;
    if (recorded) await adopt(deps, jobs, s, recorded, 'recorded');
    else rest.push(s);
  }
  return rest;
}

async function adopt(deps: CoreDeps, jobs: Jobs, s: SlotView, task: { taskId: string; createdAt?: number }, why: string): Promise<void> {
  const { slot } = s;
  const now = deps.clock.now();
  const createdAt = task.createdAt ?? now;
  // The attempt row first, as dispatch does: if the slot write below fails, the next pass adopts
  // this task by it. A task row alone would mark the task known and leave it held by no slot.
  if (why !== 'recorded' && slot.claim !== undefined) await jobs.recordAttempt(slot.jobId!, slot.versionId!, slot.claim, task.taskId, createdAt);
  await jobs.recordTask(task.taskId, { jobId: slot.jobId!, jobKey: slot.jobKey!, versionId: slot.versionId!, createdAt });
  if (!(await putSlot(jobs, s, { ...slot, state: 'inflight', taskId: task.taskId, leaseUntil: undefined }))) return;
  const updated = await jobs.updateVersion(slot.jobId!, slot.versionId!, (cur) =>
    holdsClaim(cur, slot) ? { ...cur, state: 'SUBMITTED', taskId: task.taskId, claim: undefined, submittedAt: isoTime(task.createdAt ?? now), updatedAt: now } : undefined,
  );
  if (updated) logState(deps, updated.job.jobKey, updated.job.current, { adopted: why });
}

async function requeueAndFree(deps: CoreDeps, jobs: Jobs, s: SlotView, reason: string): Promise<boolean> {
  if (!(await putSlot(jobs, s, FREE_SLOT))) return false;
  await requeueSubmitting(deps, jobs, s, reason);
  return true;
}

/**
 * A SUBMITTING version with no task of its own goes back to the queue in its old place; the
 * attempt stays counted (the create may have reached DashScope). False if it was no longer
 * SUBMITTING that attempt (someone else moved it on).
 */
export async function requeueSubmitting(deps: CoreDeps, jobs: Jobs, s: Pick<SlotView, 'slot' | 'model'>, reason: string): Promise<boolean> {
  const { jobId, versionId } = s.slot;
  if (!jobId || !versionId) return false;
  const now = deps.clock.now();
  // Only the claim this slot made: a newer claim of the same version (another slot) is alive.
  const held = (cur: VersionRecord) => (s.slot.claim === undefined ? cur.state === 'SUBMITTING' : holdsClaim(cur, s.slot));
  const updated = await jobs.updateVersion(jobId, versionId, (cur) => (held(cur) ? { ...cur, state: 'QUEUED', slot: undefined, claim: undefined, updatedAt: now } : undefined));
  if (!updated) return false;
  await jobs.enqueue(updated.job.current.queuedAt ?? now, { jobId, jobKey: updated.job.jobKey, versionId, model: s.model });
  logState(deps, updated.job.jobKey, updated.job.current, { reason });
  return true;
}

async function putSlot(jobs: Jobs, s: SlotView, next: SlotRecord): Promise<boolean> {
  try {
    await jobs.putSlot(s, s.rev, next);
    return true;
  } catch (err) {
    if (err instanceof ConditionFailedError) return false;
    throw err;
  }
}
