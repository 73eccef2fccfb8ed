/**
 * A deterministic cooperative scheduler. Every actor (a submit or poller invocation, the user,
 * the timer; Function Compute's deliveries are invocations it starts at a time) is an async
 * function whose every port call,
 * checkpoint and sleep is an `Op`: the actor blocks there until the scheduler picks that op, runs
 * its effect atomically against the in-memory world, delivers the reply, and waits until the
 * actor blocks again or ends. Only one actor runs at a time, time is virtual, and nothing waits on
 * the machine: a schedule is a function of its seed (or of a test's script) alone.
 *
 * Fates of a picked op: run normally; crash before or after its effect (the actor is abandoned:
 * its pending call never resolves and its `finally` blocks never run, as when FC kills an
 * instance); or stall before or after its effect (the actor is paused on it until a later time).
 */

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
export const ok = (value?: unknown): Outcome => ({ ok: true, value });
export const fail = (error: unknown): Outcome => ({ ok: false, error });

export type ActorKind = 'submit' | 'poller' | 'event' | 'user' | 'timer';
export type ActorState = 'new' | 'running' | 'done' | 'crashed';

export class Actor {
  state: ActorState = 'new';
  readonly pending = new Set<Op>();
  /** Resolved when this actor blocks on an op or ends (the scheduler waits on it after a resume). */
  waiter: (() => void) | undefined;
  outcome: Outcome | undefined;
  readonly onEnd: Array<(actor: Actor) => void> = [];
  /** When the platform kills this invocation (FC's timeout): nothing of it happens after. */
  diesAt: number | undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly kind: ActorKind,
    /** System actors (the user, the timer) are never crashed or stalled. */
    readonly system: boolean,
  ) {}

  get live(): boolean {
    return this.state === 'new' || this.state === 'running';
  }
}

export interface OpSpec {
  port: string;
  name: string;
  detail?: string;
  /** Virtual time at which the op may complete (default: now). */
  readyAt?: number;
  exec: () => Outcome | Promise<Outcome>;
  deliver: (outcome: Outcome) => void;
}

export class Op {
  stalled = false;
  constructor(
    readonly seq: number,
    readonly actor: Actor,
    readonly port: string,
    readonly name: string,
    readonly detail: string,
    public readyAt: number,
    public exec: () => Outcome | Promise<Outcome>,
    readonly deliver: (outcome: Outcome) => void,
  ) {}
}

export type Fate =
  | { kind: 'run' }
  | { kind: 'crash-before' }
  | { kind: 'crash-after' }
  | { kind: 'stall-before'; ms: number }
  | { kind: 'stall-after'; ms: number };

export const RUN: Fate = { kind: 'run' };

export interface SchedulerHooks {
  /** An actor was crashed or stalled (the checks excuse extra creates this may explain). */
  disturbed?(actor: Actor, why: 'crash' | 'stall'): void;
  trace?(line: string, port?: string, name?: string): void;
}

export class Scheduler {
  now: number;
  steps = 0;
  readonly ops: Op[] = [];
  readonly actors: Actor[] = [];
  private opSeq = 0;
  private actorSeq = 0;

  constructor(
    start: number,
    readonly hooks: SchedulerHooks = {},
  ) {
    this.now = start;
  }

  // ------------------------------------------------------------------ actors

  /** Registers an actor whose body starts when its start op is picked (at `at`, default now). */
  spawn(name: string, kind: ActorKind, body: (actor: Actor) => Promise<unknown>, options: { at?: number; system?: boolean; timeoutMs?: number } = {}): Actor {
    const actor = new Actor(++this.actorSeq, name, kind, options.system ?? false);
    this.actors.push(actor);
    this.register(actor, {
      port: 'start',
      name: kind,
      readyAt: options.at ?? this.now,
      exec: () => ok(),
      deliver: () => {
        actor.state = 'running';
        if (options.timeoutMs !== undefined) actor.diesAt = this.now + options.timeoutMs;
        body(actor).then(
          (value) => this.end(actor, ok(value)),
          (error: unknown) => this.end(actor, fail(error)),
        );
      },
    });
    return actor;
  }

  private end(actor: Actor, outcome: Outcome): void {
    if (!actor.live) return;
    actor.state = 'done';
    actor.outcome = outcome;
    this.hooks.trace?.(`${actor.name} ends ${outcome.ok ? 'ok' : `with ${describeError(outcome.error)}`}`);
    this.wake(actor);
    for (const cb of actor.onEnd) cb(actor);
  }

  crash(actor: Actor, quiet = false): void {
    if (!actor.live) return;
    actor.state = 'crashed';
    for (const op of actor.pending) this.unlist(op);
    actor.pending.clear();
    if (!quiet) this.hooks.trace?.(`${actor.name} CRASHES`);
    this.hooks.disturbed?.(actor, 'crash');
    this.wake(actor);
    for (const cb of actor.onEnd) cb(actor);
  }

  private wake(actor: Actor): void {
    const w = actor.waiter;
    if (w) {
      actor.waiter = undefined;
      w();
    }
  }

  // ------------------------------------------------------------------ ops

  register(actor: Actor, spec: OpSpec): Op {
    const op = new Op(++this.opSeq, actor, spec.port, spec.name, spec.detail ?? '', spec.readyAt ?? this.now, spec.exec, spec.deliver);
    this.ops.push(op);
    actor.pending.add(op);
    this.wake(actor);
    return op;
  }

  /** A port call of `actor`: blocks it until picked; `run` is the effect (sync or async). */
  call<T>(actor: Actor, port: string, name: string, detail: string, run: () => T | Promise<T>, readyAt?: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.register(actor, {
        port,
        name,
        detail,
        ...(readyAt !== undefined ? { readyAt } : {}),
        exec: () => attempt(run),
        deliver: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)),
      });
    });
  }

  /** Completes `op` now from outside the scheduler's pick (an abort signal fired): no effect runs. */
  cancel(op: Op, outcome: Outcome): void {
    if (!op.actor.pending.has(op)) return;
    this.unlist(op);
    op.actor.pending.delete(op);
    op.deliver(outcome);
  }

  /** Makes a waiting op (readyAt = Infinity) ready now. */
  ready(op: Op): void {
    if (op.actor.pending.has(op) && op.readyAt > this.now) op.readyAt = this.now;
  }

  readyOps(): Op[] {
    const out: Op[] = [];
    for (const op of this.ops) if (op.readyAt <= this.now) out.push(op);
    return out;
  }

  /** A uniformly chosen ready op (no allocation: this runs every step). */
  pickReady(rng: { int(min: number, max: number): number }): Op | undefined {
    let count = 0;
    for (const op of this.ops) if (op.readyAt <= this.now) count++;
    if (count === 0) return undefined;
    let k = count === 1 ? 0 : rng.int(0, count - 1);
    for (const op of this.ops) if (op.readyAt <= this.now && k-- === 0) return op;
    return undefined;
  }

  nextReadyAt(): number {
    let next = Infinity;
    for (const op of this.ops) if (op.readyAt < next) next = op.readyAt;
    return next;
  }

  private unlist(op: Op): void {
    const i = this.ops.indexOf(op);
    if (i >= 0) this.ops.splice(i, 1);
  }

  /**
   * Runs one picked op with its fate, and returns once its actor has blocked again or ended.
   * Stray ops of an actor that already ended (a request it never awaited) still take effect.
   */
  async execute(op: Op, fate: Fate = RUN): Promise<void> {
    this.steps++;
    const actor = op.actor;
    this.unlist(op);
    actor.pending.delete(op);
    const trace = this.hooks.trace;
    if (actor.diesAt !== undefined && this.now >= actor.diesAt && actor.live && op.port !== 'start') {
      trace?.(`${actor.name} ${op.port}.${op.name} ${op.detail} — KILLED at its timeout before its effect`);
      this.crash(actor, true);
      return;
    }
    switch (fate.kind) {
      case 'crash-before':
        trace?.(`${actor.name} ${op.port}.${op.name} ${op.detail} — CRASHES before its effect`);
        this.crash(actor, true);
        return;
      case 'stall-before':
        this.stall(op, fate.ms, 'before');
        return;
    }
    const outcome = await op.exec();
    if (trace && op.port !== 'start') trace(`${actor.name} ${op.port}.${op.name} ${op.detail}${outcome.ok ? '' : ` → ${describeError(outcome.error)}`}${fate.kind === 'crash-after' ? ' — CRASHES after its effect' : ''}`, fate.kind === 'crash-after' ? undefined : op.port, op.name);
    if (fate.kind === 'crash-after') {
      this.crash(actor, true);
      return;
    }
    if (fate.kind === 'stall-after') {
      op.exec = () => outcome;
      this.stall(op, fate.ms, 'after');
      return;
    }
    if (!actor.live && op.port !== 'start') return;
    await this.resume(actor, () => op.deliver(outcome));
  }

  private stall(op: Op, ms: number, when: 'before' | 'after'): void {
    op.stalled = true;
    op.readyAt = this.now + ms;
    this.ops.push(op);
    op.actor.pending.add(op);
    this.hooks.trace?.(`${op.actor.name} ${op.port}.${op.name} ${op.detail} — STALLS ${ms} ms ${when} its effect`);
    this.hooks.disturbed?.(op.actor, 'stall');
  }

  /**
   * Delivers a reply and waits until the actor blocks on its next op or ends. An actor with a
   * second chain still blocked elsewhere (a deadline sleep beside a create) may go quiet without
   * a new op: then the wait ends when the microtask queue has drained (no I/O or timers exist here,
   * so that is exact, not a guess about machine speed).
   */
  private resume(actor: Actor, deliver: () => void): Promise<void> {
    const others = actor.pending.size > 0;
    return new Promise<void>((resolve) => {
      actor.waiter = resolve;
      deliver();
      if (others) setImmediate(() => actor.waiter === resolve && this.wake(actor));
    });
  }

  // ------------------------------------------------------------------ helpers for actors

  sleep(actor: Actor, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const op = this.register(actor, {
        port: 'clock',
        name: 'sleep',
        detail: `${Math.round(ms)}ms`,
        readyAt: this.now + Math.max(0, ms),
        exec: () => ok(),
        deliver: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
      const onAbort = () => this.cancel(op, ok());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Blocks `actor` until `target` ends or crashes; resolves with how it ended. */
  join(actor: Actor, target: Actor): Promise<Outcome | 'crashed'> {
    return new Promise((resolve) => {
      const op = this.register(actor, {
        port: 'join',
        name: target.kind,
        detail: target.name,
        readyAt: target.live ? Infinity : this.now,
        exec: () => ok(),
        deliver: () => resolve(target.state === 'crashed' ? 'crashed' : target.outcome!),
      });
      if (target.live) target.onEnd.push(() => this.ready(op));
    });
  }
}

function attempt<T>(run: () => T | Promise<T>): Outcome | Promise<Outcome> {
  try {
    const v = run();
    if (v instanceof Promise) return v.then(ok, fail);
    return ok(v);
  } catch (error) {
    return fail(error);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}${code !== undefined ? `(${String(code)})` : ''}: ${err.message.slice(0, 120)}`;
  }
  return String(err);
}
