/**
 * Fault injection. One schema serves the typed methods and `POST /__admin/faults`, so in-process
 * and out-of-process tests inject exactly the same faults. Faults aimed at "the next" thing are
 * queued here; faults aimed at a task id are applied by the task engine.
 */
import { z } from 'zod';
import { catalogued, type ApiErrorSpec } from './errors.js';

export const REQUEST_KINDS = ['create', 'query', 'cancel', 'list', 'result', 'getPolicy', 'upload'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** The kinds whose errors are the service's flat JSON `{code, message, request_id}` (results and uploads answer OSS XML). */
export const API_REQUEST_KINDS = ['create', 'query', 'cancel', 'list', 'getPolicy'] as const satisfies readonly RequestKind[];
export type ApiRequestKind = (typeof API_REQUEST_KINDS)[number];

const kind = z.enum(REQUEST_KINDS);
const apiKind = z.enum(API_REQUEST_KINDS);
const errorCode = { code: z.string().min(1), status: z.int().min(400).max(599).optional(), message: z.string().optional() };
const count = z.int().min(1).default(1);
/** `before`: the request is never processed. `after`: processed (a create makes its task), the answer is lost. */
const when = z.enum(['before', 'after']).default('before');

export const faultSpecSchema = z.discriminatedUnion('type', [
  /** The next `count` creates answer this error (status/message default from the catalogue). Kept as the short form of failRequests kind 'create'. */
  z.object({ type: z.literal('failCreates'), count, ...errorCode }),
  /**
   * The next `count` authenticated requests of `kind` answer this error (status/message default from
   * the catalogue) instead of being processed: a query or list then sees no task, a cancel cancels nothing.
   */
  z.object({ type: z.literal('failRequests'), kind: apiKind, count, ...errorCode }),
  /** The next `count` requests of `kind` get no answer until the simulator closes. */
  z.object({ type: z.literal('hang'), kind, count, when }),
  /** The next `count` requests of `kind` have their socket destroyed. */
  z.object({ type: z.literal('reset'), kind, count, when }),
  /** Adds `ms` real latency before answering requests of `kind` ('all' = every kind); `count` omitted = until cleared. */
  z.object({ type: z.literal('slow'), kind: z.union([kind, z.literal('all')]), ms: z.number().min(0), count: z.int().min(1).optional() }),
  /** The task `taskId` (or the next task created) ends FAILED with `code` when its processing ends. */
  z.object({ type: z.literal('failTask'), taskId: z.string().optional(), code: z.string().min(1), message: z.string().optional() }),
  /** The next task loses `failed` of its n images (SUCCEEDED with {code,message} entries; all lost = FAILED). */
  z.object({ type: z.literal('partial'), failed: z.int().min(1), code: z.string().optional(), message: z.string().optional() }),
  /** The task `taskId` is forgotten now, or the next task created is forgotten when its turn to run comes; it answers UNKNOWN. */
  z.object({ type: z.literal('loseTask'), taskId: z.string().optional() }),
]);

export type FaultSpec = z.input<typeof faultSpecSchema>;
export type ParsedFault = z.output<typeof faultSpecSchema>;

/** Faults attached to one task at creation. */
export interface TaskFaults {
  fail?: { code: string; message: string };
  partial?: { failed: number; code: string; message: string };
  lose?: boolean;
}

export type NetworkFault = 'hang' | 'reset';

/** An error queued by failCreates/failRequests, and which of the two queued it (for records). */
export interface InjectedFailure {
  error: ApiErrorSpec;
  fault: 'failCreates' | 'failRequests';
}

interface Counted<T> {
  left: number;
  value: T;
}

export class FaultBook {
  // failCreates and failRequests share one queue, so both strike in the order they were injected.
  private requestFailures: Array<Counted<InjectedFailure & { kind: ApiRequestKind }>> = [];
  private network: Array<Counted<{ kind: RequestKind; fault: NetworkFault; when: 'before' | 'after' }>> = [];
  private delays: Array<Counted<{ kind: RequestKind | 'all'; ms: number }>> = [];
  private nextTask: TaskFaults = {};

  /** Queues a fault that targets "the next" request or task. Task-id faults are not accepted here. */
  add(spec: ParsedFault): void {
    switch (spec.type) {
      case 'failCreates':
      case 'failRequests': {
        const error = catalogued(spec.code, { status: spec.status, message: spec.message });
        this.requestFailures.push({ left: spec.count, value: { kind: spec.type === 'failCreates' ? 'create' : spec.kind, error, fault: spec.type } });
        return;
      }
      case 'hang':
      case 'reset':
        this.network.push({ left: spec.count, value: { kind: spec.kind, fault: spec.type, when: spec.when } });
        return;
      case 'slow':
        this.delays.push({ left: spec.count ?? Infinity, value: { kind: spec.kind, ms: spec.ms } });
        return;
      case 'failTask': {
        const c = catalogued(spec.code, { message: spec.message });
        this.nextTask.fail = { code: c.code, message: c.message };
        return;
      }
      case 'partial': {
        const c = catalogued(spec.code ?? 'InternalError.Timeout', { message: spec.message });
        this.nextTask.partial = { failed: spec.failed, code: c.code, message: c.message };
        return;
      }
      case 'loseTask':
        this.nextTask.lose = true;
        return;
    }
  }

  takeRequestFailure(kind: ApiRequestKind): InjectedFailure | undefined {
    const found = take(this.requestFailures, (v) => v.kind === kind);
    return found && { error: found.error, fault: found.fault };
  }

  takeNetwork(kind: RequestKind, when: 'before' | 'after'): NetworkFault | undefined {
    return take(this.network, (v) => v.kind === kind && v.when === when)?.fault;
  }

  takeDelay(kind: RequestKind): number {
    return take(this.delays, (v) => v.kind === kind || v.kind === 'all')?.ms ?? 0;
  }

  takeTaskFaults(): TaskFaults {
    const out = this.nextTask;
    this.nextTask = {};
    return out;
  }

  clear(): void {
    this.requestFailures = [];
    this.network = [];
    this.delays = [];
    this.nextTask = {};
  }
}

function take<T>(list: Array<Counted<T>>, match: (v: T) => boolean): T | undefined {
  const i = list.findIndex((c) => c.left > 0 && match(c.value));
  if (i < 0) return undefined;
  const c = list[i]!;
  c.left -= 1;
  if (c.left <= 0) list.splice(i, 1);
  return c.value;
}
