/**
 * Completion events (issue 17, docs/reference/events.md): when a task ends, DashScope publishes a
 * CloudEvent (`source: acs.dashscope`, `type: dashscope:System:AsyncTaskFinish`) to EventBridge's
 * default bus, which pushes it to a target. Here the target is a callback and/or an HTTP POST URL.
 * Delivery is at the task's (simulated) end time, after the event faults: lost, duplicated (same
 * id, as an at-least-once retry), late, out of order (held until the next one is sent), an event
 * for a task no one created, and (api.ts) one that arrives before the create's reply. An HTTP
 * target that fails is retried like EventBridge's BACKOFF_RETRY: 3 more times, 10 s apart.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { SimClock } from './clock.js';
import { formatBeijing } from './clock.js';
import { uniqueKeyOf } from './models/index.js';
import type { EventRecord, Records } from './records.js';
import type { Task } from './tasks.js';

export const EVENT_SOURCE = 'acs.dashscope';
export const EVENT_TYPE = 'dashscope:System:AsyncTaskFinish';

/** The CloudEvent as EventBridge delivers it to an HTTP target or an FC trigger (docs' example). */
export interface TaskFinishEvent {
  specversion: '1.0';
  id: string;
  source: typeof EVENT_SOURCE;
  type: typeof EVENT_TYPE;
  time: string;
  datacontenttype: 'application/json;charset=utf-8';
  aliyunaccountid: string;
  aliyunoriginalaccountid: string;
  aliyunpublishtime: string;
  aliyuneventbusname: 'default';
  aliyunregionid: string;
  data: {
    task_id: string;
    task_status: string;
    user_api_unique_key: string;
    region: string;
    start_time: string;
    end_time: string;
    request_id: string;
    api_key_id: string;
    contain_result: false;
  };
}

export interface EventOptions {
  /** Called with each delivered event (the lead wires it to the local FC runner). */
  onEvent?: (event: TaskFinishEvent) => void | Promise<void>;
  /** POSTs each event as JSON here (an HTTP target). */
  url?: string;
  /** `aliyunaccountid` of the events (default a fixed 16-digit id). */
  accountId?: string;
}

export type EventFaultKind = 'lose' | 'duplicate' | 'late' | 'reorder' | 'early';

export interface EventFault {
  fault: EventFaultKind;
  /** Simulated ms: how late (`late`, default 60 s) or how far apart the copies (`duplicate`, default 0). */
  delayMs?: number;
}

const RETRIES = 3;
const RETRY_MS = 10_000;

/** `2023-10-25 09:45:16` (the event's Beijing time, whole seconds). */
const beijingSeconds = (ms: number) => formatBeijing(ms).slice(0, 19);

export function finishEvent(task: Pick<Task, 'id' | 'status' | 'requestId' | 'apiKeyId' | 'submitAt' | 'scheduledAt' | 'endAt' | 'request'>, at: number, accountId: string): TaskFinishEvent {
  const time = new Date(at).toISOString();
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: EVENT_SOURCE,
    type: EVENT_TYPE,
    time,
    datacontenttype: 'application/json;charset=utf-8',
    aliyunaccountid: accountId,
    aliyunoriginalaccountid: accountId,
    aliyunpublishtime: new Date(at + 20).toISOString(),
    aliyuneventbusname: 'default',
    aliyunregionid: 'cn-beijing',
    data: {
      task_id: task.id,
      task_status: task.status,
      user_api_unique_key: uniqueKeyOf(task.request.model),
      region: 'cn-beijing',
      // A task cancelled while PENDING never started: its submission time stands in (UNCONFIRMED).
      start_time: beijingSeconds(task.scheduledAt ?? task.submitAt),
      end_time: beijingSeconds(task.endAt ?? at),
      request_id: task.requestId,
      api_key_id: task.apiKeyId,
      contain_result: false,
    },
  };
}

export class EventBus {
  private readonly agent = new Agent({ keepAliveTimeout: 1000, connections: 4 });
  private readonly accountId: string;
  /** An event held back by `reorder`, sent right after the next one. */
  private held: TaskFinishEvent | undefined;
  private readonly sent = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly options: EventOptions,
    private readonly clock: SimClock,
    private readonly records: Records,
    /** The next event fault (taken per event), if any. */
    private readonly takeFault: (taskId: string) => EventFault | undefined,
  ) {
    this.accountId = options.accountId ?? '1234567890123456';
  }

  /** A task ended at `at`: publish its event (after the faults). */
  publish(task: Task, at: number): void {
    if (this.closed) return;
    this.route(finishEvent(task, at, this.accountId), at, this.takeFault(task.id));
  }

  /** An event for a task no one created (a stray, another client's, a replay). */
  stray(taskId: string = randomUUID(), status = 'SUCCEEDED', model = 'wanx-sketch-to-image-lite'): TaskFinishEvent {
    const at = this.clock.now();
    const event = finishEvent(
      { id: taskId, status: status as Task['status'], requestId: randomUUID(), apiKeyId: 'key-unknown', submitAt: at - 20_000, scheduledAt: at - 20_000, endAt: at, request: { model } as Task['request'] },
      at,
      this.accountId,
    );
    this.deliverAt(event, at, 'stray');
    return event;
  }

  /** Resolves once the event of `taskId` has been handed to the targets (the `early` fault waits on it). */
  whenSent(taskId: string): Promise<void> {
    return this.slot(taskId).promise;
  }

  /** Resolves when no delivery is in flight. */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.agent.destroy();
  }

  private route(event: TaskFinishEvent, at: number, fault: EventFault | undefined): void {
    switch (fault?.fault) {
      case 'lose':
        this.note(event, at, { delivered: false, fault: 'lose' });
        this.slot(event.data.task_id).resolve();
        return;
      case 'duplicate':
        this.deliverAt(event, at, 'duplicate');
        this.deliverAt(event, at + (fault.delayMs ?? 0), 'duplicate');
        return;
      case 'late':
        this.deliverAt(event, at + (fault.delayMs ?? 60_000), 'late');
        return;
      case 'reorder':
        // Held until the next event goes out, then sent after it.
        if (this.held) this.deliverAt(this.held, at, 'reorder');
        this.held = event;
        return;
      default:
        this.deliverAt(event, at);
    }
  }

  private deliverAt(event: TaskFinishEvent, at: number, fault?: string): void {
    this.clock.schedule(at, () => {
      if (this.closed) return;
      this.track(this.deliver(event, fault));
      // The held (reordered) event follows the one that overtook it.
      const held = this.held;
      if (held && held !== event && fault !== 'reorder') {
        this.held = undefined;
        this.deliverAt(held, this.clock.now(), 'reorder');
      }
    });
  }

  private async deliver(event: TaskFinishEvent, fault?: string): Promise<void> {
    // Never inside the caller's stack (a cancel, an advance()): targets see events asynchronously.
    await null;
    const at = this.clock.now();
    try {
      if (this.options.onEvent) await this.options.onEvent(event);
      if (this.options.url) await this.post(event, 0, fault);
      else this.note(event, at, { delivered: true, fault });
    } catch (err) {
      this.note(event, at, { delivered: false, fault, error: String((err as Error).message ?? err) });
    } finally {
      this.slot(event.data.task_id).resolve();
    }
  }

  private async post(event: TaskFinishEvent, attempt: number, fault?: string): Promise<void> {
    const at = this.clock.now();
    let status = 0;
    let error: string | undefined;
    try {
      const res = await request(this.options.url!, {
        dispatcher: this.agent,
        method: 'POST',
        headers: { 'content-type': 'application/json;charset=utf-8' },
        body: JSON.stringify(event),
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      error = (err as Error).message;
    }
    const ok = status >= 200 && status < 300;
    this.note(event, at, { delivered: ok, fault, status, attempt, error });
    // A retry is its own delivery later on the simulated clock (flush() must not wait for it).
    if (!ok && attempt < RETRIES && !this.closed) {
      this.clock.schedule(this.clock.now() + RETRY_MS, () => {
        if (!this.closed) this.track(this.post(event, attempt + 1, fault));
      });
    }
  }

  private track(job: Promise<void>): void {
    this.inflight.add(job);
    void job.finally(() => this.inflight.delete(job));
  }

  private note(event: TaskFinishEvent, at: number, r: Omit<EventRecord, 'at' | 'realAt' | 'eventId' | 'taskId' | 'taskStatus'>): void {
    this.records.events.push({ at, realAt: Date.now(), eventId: event.id, taskId: event.data.task_id, taskStatus: event.data.task_status, ...r });
  }

  private slot(taskId: string): { promise: Promise<void>; resolve: () => void } {
    let s = this.sent.get(taskId);
    if (!s) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      s = { promise, resolve };
      this.sent.set(taskId, s);
    }
    return s;
  }
}
