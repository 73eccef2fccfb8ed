import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Clock, ImageModel, ObjectStore, PollerKicker, RowStore } from './ports.js';

/**
 * Named points between the pipeline's steps. Production passes none; tests and the soak run use
 * them to crash a function exactly there ("a crash at any step", issue 5/8).
 */
export type Checkpoint = (name: string, jobKey?: string) => void | Promise<void>;

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
}

export async function checkpoint(deps: CoreDeps, name: string, jobKey?: string): Promise<void> {
  if (deps.checkpoint) await deps.checkpoint(name, jobKey);
}
