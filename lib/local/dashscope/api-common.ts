/** What every API route shares: its dependencies, the account and injected-failure checks, error mapping. */
import type { IncomingMessage } from 'node:http';
import type { ApiKeys } from './auth.js';
import type { SimClock } from './clock.js';
import { ApiError, catalogued } from './errors.js';
import type { ApiRequestKind, FaultBook } from './faults.js';
import { BodyTooLarge, readBody } from '../http.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Records } from './records.js';
import type { SwitchBoard } from './switches.js';
import type { TaskEngine } from './tasks.js';
import type { TemporaryUploads } from './uploads.js';

export interface ApiDeps {
  keys: ApiKeys;
  limiter: RateLimiter;
  faults: FaultBook;
  switches: SwitchBoard;
  engine: TaskEngine;
  records: Records;
  uploads: TemporaryUploads;
  clock: SimClock;
  /** Creates per window per key, by model (each model has its own rate). */
  limits: { submitsPerSecond(model: string): number; queriesPerSecond: number; uploadPoliciesPerSecond: number };
  models: string[];
  /** Simulated duration of the next task of `model` (seeded jitter). */
  nextDuration(model: string): number;
  /** Resolves when the task's completion event was sent (the `early` event fault), or after `holdMs` real ms. */
  eventSent(taskId: string): Promise<void>;
}

/** Which injected fault shaped an answer, for its record. */
export interface Injected {
  fault?: string;
}

/** Throws the next queued failCreates/failRequests error for `kind`, noting the fault in `record`. */
export function throwInjected(deps: ApiDeps, kind: ApiRequestKind, record: Injected): void {
  const injected = deps.faults.takeRequestFailure(kind);
  if (!injected) return;
  record.fault = injected.fault;
  throw ApiError.of(injected.error);
}

/** Throws the account's standing refusal (until it is fixed), if it has one for `kind`. */
export function checkAccount(deps: ApiDeps, apiKeyId: string, kind: ApiRequestKind): void {
  const problem = deps.faults.accountProblem(apiKeyId, kind);
  if (problem) throw ApiError.of(catalogued(problem));
}

const MAX_BODY = 1024 * 1024;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  let text: string;
  try {
    text = (await readBody(req, MAX_BODY)).toString('utf8');
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new ApiError(400, 'InvalidParameter', 'The request body is too large.');
    throw err;
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, 'InternalError', 'An internal error has occured, please try again later or contact service support.');
}
