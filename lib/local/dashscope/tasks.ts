/**
 * Task lifecycle per account (= per API key here) and model: a FIFO queue and as many RUNNING
 * tasks as the model's concurrency (1 for the sketch model, 2 for imageedit, 5 for wan2.5).
 *
 * Times are logical: the next task starts exactly when the previous one ended (simulated), even if
 * that moment was jumped over by advance(). A task fetches and checks its sketch when it starts
 * (async, real time); its end is `start + duration` on success, or shortly after start when the
 * sketch is refused. A query whose answer depends on a fetch still in flight waits for it, so
 * answers never contradict the recorded times.
 */
import type { SimClock, SimTimer } from './clock.js';
import { TASK } from './errors.js';
import type { FaultBook, TaskFaults } from './faults.js';
import type { Records, TaskStatus } from './records.js';
import type { ModelSpec, TaskRequest } from './models/index.js';
import type { SketchFetcher, SketchOutcome } from './sketch.js';

export type ResultEntry = { url: string } | { code: string; message: string };

export interface Task {
  id: string;
  apiKeyId: string;
  requestId: string;
  request: TaskRequest;
  /** Output size, known once the inputs are checked (or fixed by the request). */
  width?: number;
  height?: number;
  status: TaskStatus;
  /** Simulated epoch ms. */
  submitAt: number;
  scheduledAt?: number;
  endAt?: number;
  /** Simulated processing time if it succeeds. */
  duration: number;
  code?: string;
  message?: string;
  results?: ResultEntry[];
  /** Successful images (billed). */
  imageCount: number;
  faults: TaskFaults;
  /** Sketch bytes, kept while results can still be downloaded. */
  sketch?: Buffer;
  prep?: Promise<SketchOutcome>;
  outcome?: SketchOutcome;
  purgeAt?: number;
  timers: SimTimer[];
}

export interface EngineOptions {
  /** Simulated ms a refused sketch takes to fail (at least). */
  downloadFailMs: number;
  resultUrlTtlMs: number;
  retentionMs: number;
  /** No result within this long after submission: FAILED InternalError.Timeout. */
  taskTimeoutMs: number;
}

export interface EngineDeps {
  clock: SimClock;
  records: Records;
  fetcher: SketchFetcher;
  faults: FaultBook;
  options: EngineOptions;
  /** The model's spec and its concurrency for this simulator (options may override the spec's). */
  spec(model: string): ModelSpec;
  concurrency(model: string): number;
  /** Signed URL of image `index` (1-based), valid until `expiresAt`. */
  resultUrl(taskId: string, index: number, expiresAt: number): string;
  /** A task's data is gone (drop cached images). */
  onPurge(taskId: string): void;
  /** A task ended SUCCEEDED, FAILED or CANCELED at `at` (its completion event). */
  onEnd?(task: Task, at: number): void;
}

/** One account's queue and slots for one model. */
interface Account {
  apiKeyId: string;
  model: string;
  queue: Task[];
  running: Task[];
}

export interface ListFilter {
  from?: number;
  to?: number;
  /** Which time from/to apply to (a task without that time yet is outside any window). */
  field?: 'submit' | 'start' | 'end';
  status?: string;
  model?: string;
  order?: 'newest-first' | 'oldest-first';
}

export class TaskEngine {
  private readonly tasks = new Map<string, Task>();
  private readonly accounts = new Map<string, Account>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly deps: EngineDeps) {}

  private get now(): number {
    return this.deps.clock.now();
  }

  create(apiKeyId: string, id: string, requestId: string, request: TaskRequest, duration: number): Task {
    const at = this.now;
    const task: Task = {
      id,
      apiKeyId,
      requestId,
      request,
      status: 'PENDING',
      submitAt: at,
      duration,
      imageCount: 0,
      faults: this.deps.faults.takeTaskFaults(),
      timers: [],
    };
    this.tasks.set(id, task);
    const account = this.accountOf(task);
    account.queue.push(task);
    this.transition(task, null, 'PENDING', at);
    this.deps.records.noteInFlight(apiKeyId, this.inFlight(apiKeyId));
    task.timers.push(this.deps.clock.schedule(at + this.deps.options.taskTimeoutMs, (t) => this.timeOutPending(task, t)));
    this.fill(account, at);
    return task;
  }

  /** The task as its owner may see it; undefined = the service answers UNKNOWN. */
  lookup(apiKeyId: string, id: string): Task | undefined {
    const task = this.tasks.get(id);
    if (!task || task.apiKeyId !== apiKeyId || task.status === 'UNKNOWN') return undefined;
    if (task.purgeAt !== undefined && this.now >= task.purgeAt) {
      this.purge(task);
      return undefined;
    }
    return task;
  }

  /** Waits until the task's state at the current simulated time is known. */
  async settle(task: Task): Promise<void> {
    if (task.status === 'RUNNING' && task.prep && !task.outcome && this.now >= (task.scheduledAt ?? 0) + task.duration) {
      await task.prep.catch(() => undefined);
    }
  }

  /** Cancels a PENDING task; false if it is not (or no longer) PENDING. */
  cancel(task: Task): boolean {
    if (task.status !== 'PENDING') return false;
    this.dequeue(task);
    this.end(task, 'CANCELED', this.now);
    return true;
  }

  list(apiKeyId: string, filter: ListFilter): Task[] {
    this.sweep();
    const timeOf = (t: Task) => (filter.field === 'start' ? t.scheduledAt : filter.field === 'end' ? t.endAt : t.submitAt);
    const windowed = filter.from !== undefined || filter.to !== undefined;
    const sign = filter.order === 'oldest-first' ? 1 : -1;
    return [...this.tasks.values()]
      .filter((t) => {
        const at = timeOf(t);
        return (
          t.apiKeyId === apiKeyId &&
          t.status !== 'UNKNOWN' &&
          (!windowed || at !== undefined) &&
          (filter.from === undefined || (at !== undefined && at >= filter.from)) &&
          (filter.to === undefined || (at !== undefined && at <= filter.to)) &&
          (filter.status === undefined || t.status === filter.status) &&
          (filter.model === undefined || t.request.model === filter.model)
        );
      })
      .sort((a, b) => sign * (a.submitAt - b.submitAt));
  }

  /** Injected: the task ends FAILED with `code` when its processing ends. */
  failById(id: string, fail: { code: string; message: string }): boolean {
    const task = this.tasks.get(id);
    if (!task || (task.status !== 'PENDING' && task.status !== 'RUNNING')) return false;
    task.faults.fail = fail;
    return true;
  }

  /** Injected: the service forgets the task now; it answers UNKNOWN and frees its slot. */
  loseById(id: string): boolean {
    const task = this.tasks.get(id);
    if (!task || task.status === 'UNKNOWN') return false;
    this.lose(task, this.now);
    return true;
  }

  /** Render input of a successful image that may still be downloaded. */
  image(taskId: string, index: number): { task: Task; sketch: Buffer } | undefined {
    const task = this.tasks.get(taskId);
    const entry = task?.results?.[index - 1];
    if (!task || !task.sketch || !entry || !('url' in entry)) return undefined;
    if (task.purgeAt !== undefined && this.now >= task.purgeAt) return undefined;
    return { task, sketch: task.sketch };
  }

  /** PENDING + RUNNING tasks of a key, every model. */
  inFlight(apiKeyId: string): number {
    let n = 0;
    for (const a of this.accounts.values()) if (a.apiKeyId === apiKeyId) n += a.queue.length + a.running.length;
    return n;
  }

  /** Resolves when no sketch fetch is in flight (tests: after advance(), before asserting). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  snapshot(id: string): Readonly<Task> | undefined {
    return this.tasks.get(id);
  }

  private accountOf(task: Task): Account {
    const key = `${task.apiKeyId}\u0000${task.request.model}`;
    let a = this.accounts.get(key);
    if (!a) this.accounts.set(key, (a = { apiKeyId: task.apiKeyId, model: task.request.model, queue: [], running: [] }));
    return a;
  }

  /** Starts queued tasks while the model has free slots. */
  private fill(account: Account, at: number): void {
    const slots = this.deps.concurrency(account.model);
    while (account.running.length < slots) {
      const task = account.queue.shift();
      if (!task) return;
      if (task.status !== 'PENDING') continue;
      // A "lose the next task" fault strikes when the task's turn comes.
      if (task.faults.lose) {
        this.lose(task, at);
        continue;
      }
      this.run(account, task, at);
    }
  }

  private run(account: Account, task: Task, at: number): void {
    account.running.push(task);
    task.status = 'RUNNING';
    task.scheduledAt = at;
    this.transition(task, 'PENDING', 'RUNNING', at);
    this.deps.records.busy.push({ apiKeyId: task.apiKeyId, model: task.request.model, taskId: task.id, start: at, realStart: Date.now() });
    this.deps.records.noteRunning(task.apiKeyId, task.request.model, account.running.length);
    const spec = this.deps.spec(task.request.model);
    const prep = this.deps.fetcher.fetchAll(task.request.imageUrls, task.request.sketchUrl, task.apiKeyId, task.request.model, spec.input).catch(
      (): SketchOutcome => ({ ok: false, ...TASK.downloadFailed }),
    );
    task.prep = prep;
    const tracked = prep.then((outcome) => {
      task.outcome = outcome;
      if (task.status !== 'RUNNING') return; // lost meanwhile
      const successEnd = at + task.duration;
      let end = successEnd;
      if (outcome.ok) {
        task.sketch = outcome.bytes;
        const size = task.request.size ?? spec.outputSize(outcome.inputs);
        task.width = size.width;
        task.height = size.height;
      }
      // A refused sketch fails soon after the start; never later than success would have ended.
      else end = Math.min(successEnd, Math.max(at + this.deps.options.downloadFailMs, this.now));
      task.timers.push(this.deps.clock.schedule(end, (t) => this.finish(task, t)));
    }).catch(() => {
      // A simulator bug must not strand the slot: the task fails like a service-side error.
      task.outcome = { ok: false, code: 'InternalError', message: 'An internal error has occured, please try again later or contact service support.' };
      if (task.status === 'RUNNING') this.finish(task, Math.max(at, this.now));
    });
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }

  private finish(task: Task, end: number): void {
    if (task.status !== 'RUNNING') return;
    const outcome = task.outcome;
    const n = task.request.n;
    if (!outcome || !outcome.ok) {
      this.fail(task, outcome && !outcome.ok ? outcome : TASK.downloadFailed, end);
    } else if (task.faults.fail) {
      this.fail(task, task.faults.fail, end);
    } else {
      const failed = Math.min(n, task.faults.partial?.failed ?? 0);
      if (failed >= n && task.faults.partial) {
        // Every image failed: the task fails with the images' error.
        this.fail(task, task.faults.partial, end);
      } else {
        const expiresAt = end + this.deps.options.resultUrlTtlMs;
        task.results = Array.from({ length: n }, (_, i): ResultEntry =>
          i < n - failed
            ? { url: this.deps.resultUrl(task.id, i + 1, expiresAt), ...task.request.resultExtras }
            : { code: task.faults.partial!.code, message: task.faults.partial!.message },
        );
        task.imageCount = n - failed;
        this.deps.records.bill(task.apiKeyId, task.imageCount, task.request.model, this.deps.spec(task.request.model).priceCny);
        this.end(task, 'SUCCEEDED', end);
      }
    }
    this.closeBusy(task, end);
    this.release(task, end);
  }

  /** Frees the task's slot (if it held one) and starts what waits. */
  private release(task: Task, at: number): void {
    const account = this.accountOf(task);
    const i = account.running.indexOf(task);
    if (i < 0) return;
    account.running.splice(i, 1);
    this.fill(account, at);
  }

  private fail(task: Task, error: { code: string; message: string }, end: number): void {
    task.code = error.code;
    task.message = error.message;
    task.sketch = undefined;
    this.end(task, 'FAILED', end);
  }

  private end(task: Task, status: 'SUCCEEDED' | 'FAILED' | 'CANCELED', at: number): void {
    const from = task.status;
    task.status = status;
    task.endAt = at;
    task.purgeAt = at + this.deps.options.retentionMs;
    for (const t of task.timers) t.cancel();
    task.timers = [this.deps.clock.schedule(task.purgeAt, () => this.purge(task))];
    this.transition(task, from, status, at, task.code);
    this.deps.onEnd?.(task, at);
  }

  private lose(task: Task, at: number): void {
    const from = task.status;
    this.dequeue(task);
    task.status = 'UNKNOWN';
    task.sketch = undefined;
    for (const t of task.timers) t.cancel();
    task.timers = [];
    this.transition(task, from, 'UNKNOWN', at, 'Lost');
    if (from === 'RUNNING') {
      this.closeBusy(task, at);
      this.release(task, at);
    }
  }

  private timeOutPending(task: Task, at: number): void {
    if (task.status !== 'PENDING') return;
    this.dequeue(task);
    task.code = TASK.timeout.code;
    task.message = TASK.timeout.message;
    this.end(task, 'FAILED', at);
  }

  private dequeue(task: Task): void {
    const account = this.accountOf(task);
    const i = account.queue.indexOf(task);
    if (i >= 0) account.queue.splice(i, 1);
  }

  private closeBusy(task: Task, end: number): void {
    const b = this.deps.records.busy.findLast((x) => x.taskId === task.id && x.end === undefined);
    if (b) {
      b.end = end;
      b.realEnd = Date.now();
      b.outcome = task.status;
    }
  }

  private purge(task: Task): void {
    for (const t of task.timers) t.cancel();
    this.tasks.delete(task.id);
    this.deps.onPurge(task.id);
  }

  private sweep(): void {
    const now = this.now;
    for (const t of this.tasks.values()) if (t.purgeAt !== undefined && now >= t.purgeAt) this.purge(t);
  }

  private transition(task: Task, from: TaskStatus | null, to: TaskStatus, at: number, code?: string): void {
    this.deps.records.transitions.push({ taskId: task.id, apiKeyId: task.apiKeyId, from, to, at, realAt: Date.now(), code });
  }
}
