/**
 * Known bugs that `--break NAME` puts back, so the explorer can show it finds each one. A break is
 * applied either at the ports (a decorator around what the core sees, for bugs that lived in an
 * adapter or in how an answer was read) or through the core's own rule hook (`deps`), for bugs in
 * the lifecycle itself. Entries without `apply` name what they need from the core; `--break`
 * refuses them until then.
 */
import type { CoreDeps } from '../../lib/core/deps.js';
import { LIFECYCLE_RULES, type LifecycleRules, type OrphanPlan } from '../../lib/core/lifecycle/index.js';
import type { InvariantId } from './checks.js';
import type { Plan } from './plan.js';
import type { ImageModel, TaskStatus } from '../../lib/core/ports.js';
import { ModelError, ObjectStoreError } from '../../lib/errors.js';

/** Puts one rule of the lifecycle back as it was (CoreDeps.rules; production never sets it). */
const withRules = (change: Partial<LifecycleRules>) => (deps: CoreDeps): CoreDeps => ({ ...deps, rules: { ...(deps.rules ?? LIFECYCLE_RULES), ...change } });

export interface BreakSpec {
  name: string;
  /** Where the bug was found (issue 13's list of runs). */
  run: string;
  description: string;
  /** The invariants this bug breaks: the break is found when a schedule violates one of them. */
  breaks: InvariantId[];
  apply?: {
    /** Wraps every invocation's ImageModel. */
    model?: (model: ImageModel) => ImageModel;
    /** Rewrites every invocation's CoreDeps (e.g. sets a rule override the core reads). */
    deps?: (deps: CoreDeps) => CoreDeps;
  };
  /** What the core must offer before this break can be applied. */
  needs?: string;
  /**
   * Narrows a seed's plan to the conditions the bug needs (CI's short search uses it; the long
   * run, `--break NAME --broad`, searches the general mix). Changes the plan in place.
   */
  focus?: (plan: Plan) => void;
}

const DOCUMENTED: ReadonlySet<string> = new Set(['PENDING', 'RUNNING', 'SUSPENDED', 'SUCCEEDED', 'FAILED', 'CANCELED', 'UNKNOWN']);

export const BREAKS: readonly BreakSpec[] = [
  {
    name: 'two-orphans-one-pass',
    run: 'issue 13 run 1',
    breaks: ['own-task', 'bounded-in-flight', 'counted', 'pay-once'],
    description: 'reconciliation matches each expired slot against one stale snapshot, so two slots can follow the same orphaned task',
    // Two or more slots whose creates' outcomes are unknown at once: several slots, many unknown creates.
    focus: (plan) => {
      plan.env.MAX_IN_FLIGHT = '3';
      plan.rates = { ...plan.rates, create: Math.max(plan.rates.create, 0.5) };
    },
    apply: {
      // As the old reconcileSlot did, slot by slot with the pass's first read: each expired slot
      // sees every unknown task as a candidate; alone with one it adopts it, else it holds the first.
      deps: withRules({
        matchOrphans: ({ expired, unknown }): OrphanPlan => {
          const plan: OrphanPlan = { adopt: [], hold: [], requeue: [], unheld: [] };
          for (const slot of expired) {
            const first = unknown[0];
            if (first && unknown.length === 1 && expired.length === 1) plan.adopt.push({ slot, task: first });
            else if (first) plan.hold.push({ slot, task: first, requeue: true });
            else plan.requeue.push(slot);
          }
          return plan;
        },
      }),
    },
  },
  {
    // The worked example: the bug is in how an answer is read, so it goes back in at the port.
    // A gateway 5xx arrives without a DashScope body; this decorator makes it look like a refusal
    // DashScope answered (code and request id), which is what the old code took it for: budget
    // refunded, attempts - 1, sent again while the first task may be running.
    name: 'gateway-5xx-is-refusal',
    run: 'issue 13 run 2',
    breaks: ['attempts-counted', 'bounded-in-flight', 'budget', 'pay-once', 'own-task'],
    description: 'a 5xx without a DashScope body (an HTML 502/504) on a create is taken for a refusal: refunded and sent again',
    apply: {
      model: (model) => ({
        ...model,
        createTask: (input, options) =>
          model.createTask(input, options).catch((err: unknown) => {
            if (err instanceof ModelError && /^HTTP5\d\d$/.test(err.code)) throw new ModelError('InternalError', err.message, err.status, 'req-gateway');
            throw err;
          }),
      }),
    },
  },
  {
    name: 'odd-status-is-lost',
    run: 'issue 13 run 3',
    breaks: ['pay-once', 'bounded-in-flight', 'attempts-counted'],
    description: "a task status outside the documented set (missing, 'Succeeded', a new value) is read as UNKNOWN and the task resubmitted",
    apply: {
      model: (model) => ({
        ...model,
        getTask: async (taskId) => {
          const view = await model.getTask(taskId);
          return DOCUMENTED.has(view.status as string) ? view : { ...view, status: 'UNKNOWN' as TaskStatus };
        },
      }),
    },
  },
  {
    name: 'create-ignores-deadline',
    run: 'issue 13 run 4',
    breaks: ['pay-once', 'bounded-in-flight'],
    description: 'the create is not aborted at the submit lease deadline, so a slow create lands after reconciliation resubmitted',
    apply: {
      // The lease fixed at the claim, and the create never aborted at it.
      deps: withRules({ leaseBeforeCreate: false }),
      model: (model) => ({ ...model, createTask: (input) => model.createTask(input) }),
    },
  },
  {
    name: 'unguarded-lost-requeue',
    run: 'issue 13 run 5',
    breaks: ['pay-once', 'bounded-in-flight'],
    description: 'the lost-task requeue does not check the version still follows that task, so a late second poller sends it again',
    // Lost tasks (forgotten, or queries failing) while a second poller, stalled or late, looks too.
    focus: (plan) => {
      plan.rates = { ...plan.rates, lose: Math.max(plan.rates.lose, 0.3), query: Math.max(plan.rates.query, 0.3) };
      plan.stallRate = Math.max(plan.stallRate, 0.02);
    },
    apply: { deps: withRules({ guardLostRequeue: false }) },
  },
  {
    name: 'account-fails-jobs',
    run: 'issue 13 run 6',
    breaks: ['no-blame'],
    description: 'an account-level refusal (InvalidApiKey, Arrearage, AccessDenied.Unpurchased, free quota used up) fails the job instead of pausing',
    apply: {
      deps: withRules({
        classify: (call, err) => {
          const cls = LIFECYCLE_RULES.classify(call, err);
          return call === 'create' && cls === 'account' ? 'terminal' : cls;
        },
      }),
    },
  },
  {
    name: 'image-info-4xx-blames-user',
    run: 'issue 13 run 7',
    breaks: ['no-blame'],
    description: "any OSS 4xx on image/info (a 403 from a missing permission) becomes UnsupportedImage 'is the file damaged?'",
    apply: {
      deps: withRules({
        classify: (call, err) =>
          call === 'imageInfo' && err instanceof ObjectStoreError && err.status >= 400 && err.status < 500 ? 'terminal' : LIFECYCLE_RULES.classify(call, err),
      }),
    },
  },
];

export function findBreak(name: string): BreakSpec | undefined {
  return BREAKS.find((b) => b.name === name);
}
