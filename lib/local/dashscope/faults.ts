/**
 * Fault injection. One schema serves the typed methods and `POST /__admin/faults`, so in-process
 * and out-of-process tests inject exactly the same faults. Faults aimed at "the next" thing are
 * queued here; faults aimed at a task id are applied by the task engine.
 */
import { z } from 'zod';
import { ACCOUNT_PROBLEMS, catalogued, type AccountProblem, type ApiErrorSpec } from './errors.js';
import type { EventFault } from './events.js';
import { switchChangesSchema } from './switches.js';

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
  /**
   * A gateway in front of DashScope answers the next `count` requests of `kind` with `status` and a
   * body that is not DashScope's (an HTML page, nothing, or a line of text). `before`: the request
   * never reached the service; `after`: it was processed (a create made its task) and the answer lost.
   */
  z.object({
    type: z.literal('gateway'),
    kind: apiKind,
    count,
    status: z.int().min(500).max(599).default(502),
    body: z.enum(['html', 'empty', 'text']).default('html'),
    when,
  }),
  /**
   * The next `count` queries (of `taskId`, or of any task) answer `task_status: status` instead of
   * the real one; `null` leaves the field out. `UNKNOWN` answers as for a task it does not have.
   */
  z.object({ type: z.literal('queryStatus'), taskId: z.string().optional(), count, status: z.string().nullable() }),
  /**
   * An account-level refusal that lasts until the account is "fixed" (`problem: null`, or
   * clearFaults). `apiKeyId` omitted: every key. `kinds` default: all calls for InvalidApiKey, creates otherwise.
   */
  z.object({
    type: z.literal('account'),
    problem: z.enum(ACCOUNT_PROBLEMS).nullable(),
    apiKeyId: z.string().optional(),
    kinds: z.array(apiKind).min(1).optional(),
  }),
  /**
   * Completion events (events.ts): the next `count` events (or the one of `taskId`) are lost,
   * duplicated (`delayMs` apart, same id), late (by `delayMs` simulated, default 60 s), or held
   * back until the next one is sent (`reorder`). `early`: the next created task's create reply
   * waits until its event has been sent.
   */
  z.object({
    type: z.literal('event'),
    fault: z.enum(['lose', 'duplicate', 'late', 'reorder', 'early']),
    count,
    taskId: z.string().optional(),
    delayMs: z.number().min(0).optional(),
  }),
  /** An event now for a task no one created (`taskId` default: a fresh id). */
  z.object({ type: z.literal('strayEvent'), taskId: z.string().optional(), status: z.string().default('SUCCEEDED'), model: z.string().optional() }),
  /** Sets switches for unconfirmed behaviour (switches.ts) until clearFaults. */
  z.object({ type: z.literal('switches'), set: switchChangesSchema }),
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

export interface GatewayFault {
  status: number;
  body: 'html' | 'empty' | 'text';
}

interface AccountState {
  problem: AccountProblem;
  kinds: readonly ApiRequestKind[];
}

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
  private gateways: Array<Counted<GatewayFault & { kind: ApiRequestKind; when: 'before' | 'after' }>> = [];
  private statuses: Array<Counted<{ taskId?: string; status: string | null }>> = [];
  private events: Array<Counted<EventFault & { taskId?: string }>> = [];
  private early = 0;
  /** Account problems by key id ('*' = every key). */
  private accounts = new Map<string, AccountState>();

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
      case 'gateway':
        this.gateways.push({ left: spec.count, value: { kind: spec.kind, status: spec.status, body: spec.body, when: spec.when } });
        return;
      case 'queryStatus':
        this.statuses.push({ left: spec.count, value: { taskId: spec.taskId, status: spec.status } });
        return;
      case 'account': {
        const key = spec.apiKeyId ?? '*';
        if (spec.problem === null) {
          // "Fixed": a fix for every key clears every key's problem.
          if (key === '*') this.accounts.clear();
          else this.accounts.delete(key);
          return;
        }
        const kinds = spec.kinds ?? (spec.problem === 'InvalidApiKey' ? API_REQUEST_KINDS : (['create'] as const));
        this.accounts.set(key, { problem: spec.problem, kinds });
        return;
      }
      case 'event':
        if (spec.fault === 'early') this.early += spec.count;
        else this.events.push({ left: spec.count, value: { fault: spec.fault, delayMs: spec.delayMs, taskId: spec.taskId } });
        return;
      case 'switches':
      case 'strayEvent':
        // Applied by the simulator (it owns the switch board and the event bus).
        return;
    }
  }

  /** The fault for the event of `taskId`, if one is queued for it or for "the next" event. */
  takeEventFault(taskId: string): EventFault | undefined {
    const found = take(this.events, (v) => v.taskId === undefined || v.taskId === taskId);
    return found && { fault: found.fault, delayMs: found.delayMs };
  }

  /** True (and counted) if the next create's reply must wait for its task's event. */
  takeEarly(): boolean {
    if (this.early <= 0) return false;
    this.early -= 1;
    return true;
  }

  takeGateway(kind: ApiRequestKind, when: 'before' | 'after'): GatewayFault | undefined {
    const found = take(this.gateways, (v) => v.kind === kind && v.when === when);
    return found && { status: found.status, body: found.body };
  }

  /** The status a query of `taskId` should show instead of the real one (`null`: leave it out), or undefined. */
  takeQueryStatus(taskId: string): { status: string | null } | undefined {
    const found = take(this.statuses, (v) => v.taskId === undefined || v.taskId === taskId);
    return found && { status: found.status };
  }

  /** The account problem refusing `kind` for this key now, if any. */
  accountProblem(apiKeyId: string, kind: ApiRequestKind): AccountProblem | undefined {
    for (const state of [this.accounts.get(apiKeyId), this.accounts.get('*')]) {
      if (state && state.kinds.includes(kind)) return state.problem;
    }
    return undefined;
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
    this.gateways = [];
    this.statuses = [];
    this.events = [];
    this.early = 0;
    this.accounts.clear();
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
