/**
 * The seeded interleaving: which ready op completes next, what becomes of it (run, crash or stall
 * before or after its effect), and how far the virtual clock moves per step. Crashes are likelier
 * at the pipeline's named checkpoints; stalls last past the lease the actor holds, so lease-expiry
 * races happen. System actors (the user, the timer) are never crashed or stalled.
 */
import { RUN, type Fate, type Op, type Scheduler } from './scheduler.js';
import type { Rng } from './rng.js';

export interface Policy {
  /** The next op and its fate, or undefined when no op is ready now. */
  choose(sched: Scheduler): { op: Op; fate: Fate } | undefined;
  /** Moves the clock after a step. */
  afterStep(sched: Scheduler): void;
}

export interface RandomPolicyOptions {
  crashRate: number;
  stallRate: number;
  stepMaxMs: number;
  /** How long a stall of this actor lasts: past its lease. */
  stallMs(op: Op): number;
  /** False once faults have stopped. */
  faulty(): boolean;
}

const CHECKPOINT_CRASH_FACTOR = 6;
/** A slow create is the race that matters most (issue 13 run 4): stall it more often. */
const CREATE_STALL_FACTOR = 4;

export class RandomPolicy implements Policy {
  constructor(
    private readonly rng: Rng,
    private readonly options: RandomPolicyOptions,
  ) {}

  choose(sched: Scheduler): { op: Op; fate: Fate } | undefined {
    const op = sched.pickReady(this.rng);
    return op && { op, fate: this.fateOf(op) };
  }

  private fateOf(op: Op): Fate {
    const { rng, options } = this;
    if (op.actor.system || op.port === 'start' || !options.faulty()) return RUN;
    const crash = options.crashRate * (op.port === 'checkpoint' ? CHECKPOINT_CRASH_FACTOR : 1);
    const r = rng.float();
    if (r < crash) return op.port === 'checkpoint' || rng.chance(0.5) ? { kind: 'crash-before' } : { kind: 'crash-after' };
    const stall = options.stallRate * (op.name === 'createTask' ? CREATE_STALL_FACTOR : 1);
    if (!op.stalled && op.port !== 'join' && r < crash + stall) {
      const ms = options.stallMs(op);
      return op.port === 'checkpoint' || op.port === 'clock' || rng.chance(0.5) ? { kind: 'stall-before', ms } : { kind: 'stall-after', ms };
    }
    return RUN;
  }

  afterStep(sched: Scheduler): void {
    if (this.options.stepMaxMs > 0) sched.now += this.rng.int(0, this.options.stepMaxMs);
  }
}

/** Scenario tests: the oldest ready op of the allowed actors, always run normally. */
export class ScriptedPolicy implements Policy {
  allow: ((op: Op) => boolean) | undefined;

  choose(sched: Scheduler): { op: Op; fate: Fate } | undefined {
    let best: Op | undefined;
    for (const op of sched.readyOps()) {
      if (this.allow && !this.allow(op)) continue;
      if (!best || op.readyAt < best.readyAt || (op.readyAt === best.readyAt && op.seq < best.seq)) best = op;
    }
    return best && { op: best, fate: RUN };
  }

  afterStep(sched: Scheduler): void {
    sched.now += 1;
  }
}
