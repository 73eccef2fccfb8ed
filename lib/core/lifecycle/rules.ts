/**
 * The lifecycle's decisions as one value. Production always uses LIFECYCLE_RULES; the explorer
 * (test/explore) swaps single rules for the bugs they once had (`--break NAME`), to show that it
 * finds each of them.
 */
import { matchOrphans } from './orphans.js';
import { classify, taskStatusClass } from './replies.js';

export interface LifecycleRules {
  classify: typeof classify;
  taskStatusClass: typeof taskStatusClass;
  matchOrphans: typeof matchOrphans;
  /** The submit lease restarts just before the create, and the create is aborted at its deadline. */
  leaseBeforeCreate: boolean;
  /** A lost task's requeue applies only while the version still follows that task. */
  guardLostRequeue: boolean;
  /** A job that cannot fit today's budget lets smaller jobs behind it go first. */
  budgetSkipsAhead: boolean;
}

export const LIFECYCLE_RULES: LifecycleRules = {
  classify,
  taskStatusClass,
  matchOrphans,
  leaseBeforeCreate: true,
  guardLostRequeue: true,
  budgetSkipsAhead: true,
};
