/**
 * One error class per failure family, each keeping `cause`. What a failure means for a job is
 * decided in one place, `classify` (lib/core/lifecycle/replies.ts). Messages never carry secrets:
 * callers pass redacted URLs, and the logger redacts again.
 */

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

  /**
   * Whether DashScope itself answered (a JSON error body with its code). A gateway in front of it
   * (HTML, empty or non-JSON body) is coded `HTTP<status>` by the adapter, an unreadable 200
   * `InvalidReply`: those say nothing about whether a create was carried out.
   */
  get fromService(): boolean {
    return !/^HTTP\d{3}$/.test(this.code) && this.code !== 'InvalidReply';
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

/** Narrows `unknown` to an Error (for `cause` chains and logs). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
