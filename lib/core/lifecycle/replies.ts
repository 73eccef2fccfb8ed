/**
 * The one place that decides what a failed call means (issue 13): for every call the pipeline
 * makes — DashScope create, query, cancel, list, result download; OSS; Tablestore — a failure is
 * one of the classes below, and the lifecycle (transitions.ts) acts on the class, never on codes.
 * Facts: dashscope.md §3 (error catalogue), storage.md §A.5 / §C.7.
 */
import { ConditionFailedError, InputError, JobStoreError, ModelError, ObjectStoreError, ResultDownloadError, TransportError } from '../../errors.js';

export type Call = 'create' | 'query' | 'cancel' | 'list' | 'download' | 'imageInfo' | 'objects' | 'rows';

export type ReplyClass =
  /** Transient, and nothing happened: the same step again later (FC retry, next pass). */
  | 'retry'
  /** The service asked us to slow down, and nothing happened: back off, never fail the job. */
  | 'throttled'
  /** This job's request cannot succeed by repeating: its manifest says why. */
  | 'terminal'
  /** The account or the deployment is wrong (key, billing, permission): pause, never blame the job. */
  | 'account'
  /** (create) DashScope may have created the task: reconcile, never send blindly again. */
  | 'unknown'
  /** (query, cancel) will not succeed by repeating, but says nothing about the task itself. */
  | 'permanent';

const THROTTLE_CODES = new Set(['Throttling', 'Throttling.RateQuota', 'Throttling.BurstRate', 'Throttling.AllocationQuota', 'LimitRequests', 'limit_requests', 'limit_burst_rate', 'insufficient_quota', 'ModelServingError']);
/** Billing and purchase states: the account must be fixed, then work resumes (dashscope.md §3). */
const ACCOUNT_CODES = new Set(['Arrearage', 'CommodityNotPurchased', 'PrepaidBillOverdue', 'PostpaidBillOverdue', 'AccessDenied.Unpurchased', 'AllocationQuota.FreeTierOnly', 'ModelNotFound', 'WorkSpaceNotFound', 'Model.AccessDenied', 'Workspace.AccessDenied', 'NOT AUTHORIZED']);

/** "Free allocated quota exceeded" is the free tier used up: waiting does not help, paying does. */
const freeQuotaUsedUp = (err: ModelError) => (err.code === 'Throttling.AllocationQuota' || err.code === 'insufficient_quota') && /free allocated quota/i.test(err.message);

function modelClass(call: Call, err: ModelError): ReplyClass {
  if (err.status === 401 || err.status === 403 || ACCOUNT_CODES.has(err.code) || freeQuotaUsedUp(err)) return 'account';
  if (!err.fromService) {
    // No DashScope error body: a gateway or proxy answered (HTML, empty, not JSON). A create may
    // have reached DashScope and made the task before the gateway gave up (issue 13 run 2).
    if (err.status === 429) return 'throttled';
    if (call === 'create') return err.status >= 500 || err.status < 400 ? 'unknown' : 'terminal';
    return err.status >= 500 || err.status < 400 ? 'retry' : 'permanent';
  }
  if (THROTTLE_CODES.has(err.code) || err.status === 429) return 'throttled';
  // DashScope itself answered with an error: it created nothing (dashscope.md §3).
  if (err.status >= 500) return 'retry';
  return call === 'create' ? 'terminal' : 'permanent';
}

export function classify(call: Call, err: unknown): ReplyClass {
  if (err instanceof ConditionFailedError) return 'retry';
  if (err instanceof InputError) return 'terminal';
  if (err instanceof TransportError) {
    // A create that left (any byte sent) may have been carried out; one that never left did nothing.
    if (call === 'create') return err.sent ? 'unknown' : 'retry';
    return 'retry';
  }
  if (err instanceof ModelError) return modelClass(call, err);
  if (err instanceof ResultDownloadError) return err.permanent ? 'permanent' : 'retry';
  if (err instanceof ObjectStoreError) {
    if (err.status === 403) return 'account'; // the function role lacks a permission: not the user's file
    if (err.status >= 500 || err.status === 429 || err.status === 404 || err.code === 'InvalidReply') return 'retry';
    // OSS image processing answers 4xx for bytes it cannot decode: that is the file (SPEC §3).
    return call === 'imageInfo' ? 'terminal' : 'permanent';
  }
  if (err instanceof JobStoreError) {
    if (err.status >= 500 || ['OTSRowOperationConflict', 'OTSServerBusy', 'OTSQuotaExhausted', 'OTSTimeout', 'OTSServerUnavailable'].includes(err.code)) return 'retry';
    return err.status === 403 || err.code === 'OTSAuthFailed' || err.code === 'OTSNoPermissionAccess' ? 'account' : 'permanent';
  }
  // Anything else is treated as transient: FC retries the event, the poller tries again.
  return 'retry';
}

/** What a task status means for the job (dashscope.md §2 "Status values"). */
export type TaskStatusClass = 'waiting' | 'running' | 'finished' | 'lost' | 'invalid';

const LOST_CODES = new Set(['InternalError.Timeout']);

/**
 * Only a literal `UNKNOWN` (DashScope no longer has the task) or a FAILED `InternalError.Timeout`
 * (no result within 3 h) means lost. A status outside the documented set ("Succeeded", missing, a
 * new value) is an invalid reply: keep polling and warn — never pay again for it (issue 13 run 3).
 */
export function taskStatusClass(status: string, code?: string): TaskStatusClass {
  switch (status) {
    case 'PENDING':
    case 'SUSPENDED':
      return 'waiting';
    case 'RUNNING':
      return 'running';
    case 'SUCCEEDED':
    case 'CANCELED':
      return 'finished';
    case 'FAILED':
      return code !== undefined && LOST_CODES.has(code) ? 'lost' : 'finished';
    case 'UNKNOWN':
      return 'lost';
    default:
      return 'invalid';
  }
}
