/**
 * One error class per failure family, each keeping `cause`, and the one place that decides what
 * a failure means for a job (`dispositionOf`). Messages never carry secrets: callers pass
 * redacted URLs, and the logger redacts again.
 */

export type Disposition =
  /** Transient: try the same step again later (FC retry, next poller pass). */
  | 'retry'
  /** The service asked us to slow down: back off, never fail the job for it. */
  | 'throttled'
  /** Will not succeed by repeating: the job ends with this error in its manifest. */
  | 'terminal'
  /** DashScope lost the task (UNKNOWN, InternalError.Timeout): resubmit within MAX_ATTEMPTS. */
  | 'lost';

export abstract class SketchflowError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A setting is missing or invalid. Lists every problem at once (SPEC §6). */
export class ConfigError extends SketchflowError {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidConfig';
  constructor(readonly problems: string[], options?: ErrorOptions) {
    super(`invalid configuration: ${problems.join('; ')}`, options);
  }
}

/** The user's input cannot be processed; the manifest tells them what to fix (SPEC §5 codes). */
export type InputErrorCode = 'MissingPrompt' | 'InvalidSidecar' | 'UnsupportedImage' | 'ImageTooLarge' | 'ImageRejected';

export class InputError extends SketchflowError {
  override readonly name = 'InputError';
  constructor(readonly code: InputErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** An error reply from DashScope (create, query, cancel, list) or a task that ended FAILED. */
export class ModelError extends SketchflowError {
  override readonly name = 'ModelError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The request may or may not have reached the service (timeout, reset, refused).
 * `sent` is false only when we know no byte of the request left (connection refused).
 */
export class TransportError extends SketchflowError {
  override readonly name = 'TransportError';
  readonly code = 'TransportError';
  constructor(readonly service: 'dashscope' | 'oss' | 'tablestore' | 'fc' | 'result', message: string, readonly sent: boolean, options?: ErrorOptions) {
    super(message, options);
  }
}

/** An OSS error reply other than "not found" (which adapters turn into `undefined`). */
export class ObjectStoreError extends SketchflowError {
  override readonly name = 'ObjectStoreError';
  constructor(readonly code: string, message: string, readonly status: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A Tablestore error reply (other than a failed condition). */
export class JobStoreError extends SketchflowError {
  override readonly name = 'JobStoreError';
  constructor(readonly code: string, message: string, readonly status: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A conditional write lost a race: someone else changed the row first. Expected, never fatal. */
export class ConditionFailedError extends SketchflowError {
  override readonly name = 'ConditionFailedError';
  readonly code = 'ConditionFailed';
}

/** A result image could not be copied from DashScope to the bucket. */
export class ResultDownloadError extends SketchflowError {
  override readonly name = 'ResultDownloadError';
  readonly code = 'ResultDownloadFailed';
  /** HTTP status of the result URL, when it answered (403/404: expired or gone for good). */
  constructor(message: string, readonly status?: number, options?: ErrorOptions) {
    super(message, options);
  }

  get permanent(): boolean {
    return this.status !== undefined && this.status >= 400 && this.status < 500;
  }
}

const THROTTLE_CODES = new Set(['Throttling', 'Throttling.RateQuota', 'Throttling.BurstRate', 'LimitRequests', 'limit_requests', 'limit_burst_rate', 'ModelServingError']);
const LOST_CODES = new Set(['InternalError.Timeout']);
const BILLING_CODES = new Set(['CommodityNotPurchased', 'PrepaidBillOverdue', 'PostpaidBillOverdue', 'Arrearage']);

/**
 * The one retry-vs-terminal decision (dashscope.md §3; storage.md §C.7). Everything else asks here.
 */
export function dispositionOf(err: unknown): Disposition {
  if (err instanceof InputError || err instanceof ConfigError) return 'terminal';
  if (err instanceof ModelError) return modelDisposition(err);
  if (err instanceof TransportError) return 'retry';
  if (err instanceof ResultDownloadError) return 'retry';
  if (err instanceof ConditionFailedError) return 'retry';
  if (err instanceof JobStoreError) {
    if (err.status >= 500 || err.code === 'OTSRowOperationConflict' || err.code === 'OTSServerBusy' || err.code === 'OTSQuotaExhausted' || err.code === 'OTSTimeout') return 'retry';
    return 'terminal';
  }
  if (err instanceof ObjectStoreError) return err.status >= 500 || err.status === 429 ? 'retry' : 'terminal';
  // Unknown failures are treated as transient: FC retries the event, the poller tries again.
  return 'retry';
}

function modelDisposition(err: ModelError): Disposition {
  if (LOST_CODES.has(err.code)) return 'lost';
  if (err.code === 'Throttling.AllocationQuota' || err.code === 'insufficient_quota') {
    // "Free allocated quota exceeded" means the free tier is used up: no amount of waiting helps.
    return /free allocated quota/i.test(err.message) ? 'terminal' : 'throttled';
  }
  if (BILLING_CODES.has(err.code)) return 'terminal';
  if (THROTTLE_CODES.has(err.code) || err.status === 429) return 'throttled';
  if (err.status >= 500) return 'retry';
  return 'terminal';
}

/** Narrows `unknown` to an Error (for `cause` chains and logs). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
