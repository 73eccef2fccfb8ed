import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Clock, ImageModel, ObjectStore, PollerKicker, RowStore } from './ports.js';
import { LIFECYCLE_RULES, type Ctx, type LifecycleRules } from './lifecycle/index.js';

/**
 * Named points between the pipeline's steps. Production passes no hook; tests and the soak run use
 * them to crash a function exactly there ("a crash at any step", issue 5/8). These lists are the
 * one source of the names.
 */
export const JOB_CHECKPOINTS = [
  'submit:version-built',
  'submit:version-recorded',
  'dispatch:slot-claimed',
  'dispatch:job-claimed',
  'dispatch:task-created',
  'dispatch:task-recorded',
  'dispatch:slot-recorded',
  'finalize:started',
  'finalize:results-copied',
  'finalize:decided',
  'finalize:manifest-written',
] as const;
/** Points of the poller function not tied to one job: its loop, and a completion event's pass. */
export const POLLER_CHECKPOINTS = ['poller:swept', 'poller:slots-serviced', 'events:slots-tracked'] as const;
export type CheckpointName = (typeof JOB_CHECKPOINTS)[number] | (typeof POLLER_CHECKPOINTS)[number];

export type Checkpoint = (name: CheckpointName, jobKey?: string) => void | Promise<void>;

export interface CoreDeps {
  config: Config;
  objects: ObjectStore;
  rows: RowStore;
  model: ImageModel;
  clock: Clock;
  log: Logger;
  kicker?: PollerKicker;
  /** Who holds leases and slots: the FC request id. */
  owner: string;
  checkpoint?: Checkpoint;
  /** Uniform in [0, 1) for backoff jitter; the explorer seeds it so a schedule replays exactly. */
  random?: () => number;
  /** Only the explorer sets this, to put a known bug back (`--break NAME`). */
  rules?: LifecycleRules;
  /** When the platform stops this invocation (FC's timeout), if known: no write of ours comes later. */
  deadline?: number;
}

/** When unknown, how long an invocation may still write (FC's timeouts here are 60 s). */
const UNKNOWN_DEADLINE_MS = 5 * 60_000;
/** Room for clock differences between instances. */
const LEASE_MARGIN_MS = 5000;

/** Until when an outputs lease taken now must run: past this invocation's last possible write. */
export function outputsLeaseUntil(deps: CoreDeps): number {
  return (deps.deadline ?? deps.clock.now() + UNKNOWN_DEADLINE_MS) + LEASE_MARGIN_MS;
}

/** What the pure lifecycle functions need from the deps, at this instant. */
export function lifecycleCtx(deps: CoreDeps): Ctx {
  return { now: deps.clock.now(), config: deps.config, rules: deps.rules ?? LIFECYCLE_RULES, random: deps.random ?? Math.random };
}

export async function checkpoint(deps: CoreDeps, name: CheckpointName, jobKey?: string): Promise<void> {
  if (deps.checkpoint) await deps.checkpoint(name, jobKey);
}
