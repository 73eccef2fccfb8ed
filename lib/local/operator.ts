/**
 * The operator operations (status, retry, backfill) on one set of services: what the control API
 * of `sketchflow local` serves and what `status | retry | backfill` call, whether on the configured
 * services or on a local stack.
 */
import type { CoreDeps } from '../core/deps.js';
import { backfill, pipelineStatus, retryFailed, retryJob, type BackfillReport, type PipelineStatus, type RetriedJob, type RetryFailedReport } from '../core/operations.js';
import type { SubmitOutcome } from '../core/submit.js';
import type { FcContext, Runtime } from '../runtime.js';

export interface Operations {
  /** Every job under `prefix` (default: the target's SKETCH_PREFIX). */
  status(prefix?: string): Promise<PipelineStatus>;
  retry(key: string): Promise<SubmitOutcome>;
  /** Every failed job under `prefix` again; `onJob` follows them one by one where it can (in process). */
  retryFailed(prefix: string, onJob?: Parameters<typeof retryFailed>[2]): Promise<RetryFailedReport>;
  backfill(prefix: string): Promise<BackfillReport>;
}

/** Fresh CoreDeps for each operation, as `submit` gets them, with a request id of its own. */
export function operatorDeps(runtime: Runtime, credentials: NonNullable<FcContext['credentials']>): () => CoreDeps {
  let n = 0;
  return () => runtime.depsFor({ requestId: `cli-${process.pid}-${++n}`, credentials }, 'submit');
}

export function operationsOn(deps: () => CoreDeps, defaultPrefix: string): Operations {
  return {
    status: (prefix) => pipelineStatus(deps(), prefix ?? defaultPrefix),
    retry: (key) => retryJob(deps(), key),
    retryFailed: (prefix, onJob) => retryFailed(deps(), prefix, onJob),
    backfill: (prefix) => backfill(deps(), prefix),
  };
}
