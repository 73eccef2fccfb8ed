/**
 * Reconciliation's matching (SPEC §4.2 case a), pure: all the slots of a model left SUBMITTING
 * past their lease are matched at once against that model's tasks in one listing of the account's
 * live tasks (matchOrphansPerModel, below), so two slots can
 * never both follow the same task and every orphaned task is held by exactly one slot (issue 13
 * run 1). Matching is by count, never by creation time: our clock and DashScope's need not agree.
 *
 * - One orphaned slot and one task no row of ours knows: that task is the slot's (every create is
 *   made under a slot's lease, and this is the only lease that ended without a recorded task).
 * - Otherwise telling them apart would be a guess that could give one sketch another's image: each
 *   orphaned slot holds one unknown task until it ends (cancelled while PENDING), its version goes
 *   back to the queue; unknown tasks beyond the orphaned slots are held by free slots, so the
 *   in-flight bound counts them.
 * - With no unknown task, nothing reached DashScope (or it already ended): back to the queue.
 */
import type { SlotView } from '../records.js';
import type { TaskSummary } from '../ports.js';

export interface OrphanInput {
  /** Slots SUBMITTING past their lease whose attempt recorded no task, oldest claim first. */
  expired: SlotView[];
  /** Live (PENDING/RUNNING) tasks that no row or slot of ours knows, oldest first. */
  unknown: TaskSummary[];
  /** Free slots, for unknown tasks beyond the orphaned slots. */
  free: SlotView[];
}

export interface OrphanPlan {
  /** The task is this slot's version's: follow it, pay nothing again. */
  adopt: Array<{ slot: SlotView; task: TaskSummary }>;
  /** Follow the task until it ends; `requeue`: the slot's own version goes back to the queue. */
  hold: Array<{ slot: SlotView; task: TaskSummary; requeue: boolean }>;
  /** The version goes back to the queue and the slot is freed. */
  requeue: SlotView[];
  /** Unknown tasks no slot could hold (more than all our slots: another user of the account). */
  unheld: TaskSummary[];
}

export function matchOrphans({ expired, unknown, free }: OrphanInput): OrphanPlan {
  const plan: OrphanPlan = { adopt: [], hold: [], requeue: [], unheld: [] };
  if (expired.length === 1 && unknown.length === 1) {
    plan.adopt.push({ slot: expired[0]!, task: unknown[0]! });
    return plan;
  }
  const tasks = [...unknown];
  for (const slot of expired) {
    const task = tasks.shift();
    if (task) plan.hold.push({ slot, task, requeue: true });
    else plan.requeue.push(slot);
  }
  for (const slot of free) {
    const task = tasks.shift();
    if (!task) break;
    plan.hold.push({ slot, task, requeue: false });
  }
  plan.unheld.push(...tasks);
  return plan;
}

/**
 * Every model's orphans at once (issue 16): a task can only be the orphan of a slot of its own
 * model, so each model's expired slots are matched with that model's unknown tasks, and only its
 * own free slots hold the rest — a backlog of one model never takes another's slots. A task
 * without a model (the listing did not name one, and more than one model is configured: the shell
 * attributes it when only one is) stays unheld (reported), never guessed.
 */
export function matchOrphansPerModel(
  input: OrphanInput & { models: readonly string[] },
  match: (input: OrphanInput) => OrphanPlan = matchOrphans,
): OrphanPlan {
  const plan: OrphanPlan = { adopt: [], hold: [], requeue: [], unheld: [] };
  for (const model of input.models) {
    const part = match({
      expired: input.expired.filter((s) => s.model === model),
      unknown: input.unknown.filter((t) => t.model === model),
      free: input.free.filter((s) => s.model === model),
    });
    plan.adopt.push(...part.adopt);
    plan.hold.push(...part.hold);
    plan.requeue.push(...part.requeue);
    plan.unheld.push(...part.unheld);
  }
  plan.unheld.push(...input.unknown.filter((t) => t.model === undefined || !input.models.includes(t.model)));
  return plan;
}
