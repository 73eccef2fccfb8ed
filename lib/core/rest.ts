/**
 * The poller's rest (SPEC §4 "Resting"): Function Compute bills the poller for the time it sleeps
 * between passes, and DashScope tells us when a task ends (its completion event, task-events.ts).
 * So once every busy slot holds a task that can only end, the poller stops and the events finish
 * the work; one delayed kick, EVENT_SAFETY_SECONDS ahead, is the safety net for a lost event (the
 * timer is the net below it). No estimate of how long a task runs is needed.
 */
import { asError } from '../errors.js';
import type { CoreDeps } from './deps.js';
import type { Jobs } from './jobs.js';
import type { SlotView } from './records.js';
import { trackSlot, type Finished } from './track.js';

/** A slot's task as a pass saw it: the same slot with another task is another thing to look at. */
export const slotTaskKey = (s: SlotView) => `${s.model}#${s.index}:${s.slot.taskId ?? ''}`;

export type RestStep =
  /** Keep polling (no events, something to do soon, or a create whose reply is still coming). */
  | 'poll'
  /** Stop: the events (and the safety kick) take it from here. */
  | 'rest'
  /** A task looked at just now has ended: do another pass at once. */
  | 'again';

export interface PassState {
  /** Slot tasks this pass queried (slotTaskKey). */
  tracked: Set<string>;
  /** Results still to copy. */
  finishing: boolean;
  /** A queued version could take a free slot (after its backoff). */
  canSubmit: boolean;
}

/**
 * May the poller rest after a pass, given the slots as they are now? Only with events, nothing to
 * do soon, and every busy slot holding a recorded task (a create whose reply is being recorded, or
 * is unknown, is polled for). The tasks this pass did not query are returned: they must be
 * queried first (see nextStep).
 */
export function restPlan(config: Pick<CoreDeps['config'], 'taskEvents'>, slots: SlotView[], pass: PassState): { step: 'poll' } | { step: 'rest'; unqueried: SlotView[] } {
  if (!config.taskEvents || pass.finishing || pass.canSubmit) return { step: 'poll' };
  const busy = slots.filter((s) => s.slot.state !== 'free');
  if (busy.some((s) => s.slot.state !== 'inflight')) return { step: 'poll' };
  return { step: 'rest', unqueried: busy.filter((s) => !pass.tracked.has(slotTaskKey(s))) };
}

/**
 * What the poller does after a pass. It rests only once every busy slot's task was queried after
 * it went in flight: a task recorded after this pass queried the slots (a refill, a concurrent
 * submit, an adoption) is queried now, because an event that came while its slot was still being
 * recorded found no task to finish (an early event); every later event finds it.
 */
export async function nextStep(deps: CoreDeps, jobs: Jobs, slots: SlotView[], pass: PassState & { finished: Finished }): Promise<RestStep> {
  const plan = restPlan(deps.config, slots, pass);
  if (plan.step === 'poll') return 'poll';
  let again = false;
  for (const s of plan.unqueried) {
    pass.tracked.add(slotTaskKey(s));
    try {
      if ((await trackSlot(deps, jobs, s, pass.finished)) === 'freed') again = true;
    } catch (err) {
      deps.log.warn('slot pass failed', { slot: s.index, jobKey: s.slot.jobKey, taskId: s.slot.taskId, error: asError(err) });
      return 'poll';
    }
  }
  // Results waiting for another writer's outputs lease (notBefore) are not work for now.
  const now = deps.clock.now();
  const toCopy = [...pass.finished.values()].some((f) => f.notBefore === undefined || f.notBefore <= now);
  return again || toCopy ? 'again' : 'rest';
}

/** When the safety kick of a rest is due: kick delays are whole seconds, so never under one. */
export function restWakeAt(now: number, config: Pick<CoreDeps['config'], 'eventSafetyMs'>): number {
  return now + Math.max(1000, config.eventSafetyMs);
}
