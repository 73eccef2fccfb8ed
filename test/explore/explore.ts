/**
 * One seeded schedule, start to end: plan, world, random interleaving, the checks. The same seed
 * gives the same schedule (and the same trace) every time.
 */
import type { BreakSpec } from './breaks.js';
import type { Violation } from './checks.js';
import { makePlan, type Plan } from './plan.js';
import { RandomPolicy } from './policy.js';
import { Rng } from './rng.js';
import { World } from './world.js';

export interface ScheduleResult {
  seed: number;
  violations: Violation[];
  steps: number;
  virtualMs: number;
  creates: number;
  maxLive: number;
  plan: Plan;
  trace?: string[];
}

export async function runSchedule(seed: number, options: { trace?: boolean | 'full'; brk?: BreakSpec; broad?: boolean } = {}): Promise<ScheduleResult> {
  const rng = new Rng(seed);
  const plan = makePlan(seed, rng);
  if (options.brk?.focus && !options.broad) options.brk.focus(plan);
  const world = new World(plan, rng, options);
  const policy = new RandomPolicy(rng, {
    crashRate: plan.crashRate,
    stallRate: plan.stallRate,
    stepMaxMs: plan.stepMaxMs,
    stallMs: (op) => world.stallMs(op),
    faulty: () => world.faults.phase === 'faults',
  });
  world.startActors();
  const { rested, why } = await world.run(policy);
  world.checks.final(rested, why);
  return {
    seed,
    violations: world.checks.violations,
    steps: world.sched.steps,
    virtualMs: world.sched.now - plan.start,
    creates: world.fake.creates.length,
    maxLive: world.checks.maxLive,
    plan,
    ...(world.trace ? { trace: world.trace.lines } : {}),
  };
}

/** The plan in a few lines, for a violation report. */
export function describePlan(plan: Plan): string[] {
  const e = plan.env;
  return [
    `config: MAX_IN_FLIGHT=${e.MAX_IN_FLIGHT} MAX_ATTEMPTS=${e.MAX_ATTEMPTS} MAX_IMAGES_PER_DAY=${e.MAX_IMAGES_PER_DAY} DASHSCOPE_TIMEOUT_SECONDS=${e.DASHSCOPE_TIMEOUT_SECONDS} POLL_INTERVAL_SECONDS=${e.POLL_INTERVAL_SECONDS} POLL_BUDGET_SECONDS=${e.POLL_BUDGET_SECONDS} PROMPT_GRACE_SECONDS=${e.PROMPT_GRACE_SECONDS} TASK_EVENTS=${e.TASK_EVENTS} EVENT_SAFETY_SECONDS=${e.EVENT_SAFETY_SECONDS}`,
    `world: ${plan.wire ? 'real adapter over the fake' : 'direct fake'} DashScope, kicker ${plan.kicker ? 'on' : 'off'}, timer ${plan.timerPeriodMs / 1000} s, faults for ${plan.faultsForMs / 1000} s, crash ${plan.crashRate}, stall ${plan.stallRate}, create faults ${plan.rates.create}, completion events ${plan.events.delivered ? `delivered (faults ${plan.rates.event}, canceled ${plan.events.canceled ? 'too' : 'not'}, strays ${plan.events.strayRate})` : 'never delivered'}`,
    ...plan.jobs.map((j) => `job ${j.jobKey} (${j.mode}, ${j.format}, n=${j.n}${j.square ? '' : ', not square'}): ${j.uploads.map((u) => `${u.what}@${(u.at / 1000).toFixed(2)}s`).join(' ')}`),
  ];
}
