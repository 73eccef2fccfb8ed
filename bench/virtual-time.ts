/**
 * Virtual time for the scheduling figures: the pipeline's clock (every `clock.now()` and
 * `clock.sleep()` of the core: poll interval, budget, leases, backoff) and a frozen DashScope
 * simulator clock move together, and only when a driver moves them. The driver waits until the
 * whole system is quiescent — every function invocation is either finished or asleep on the
 * virtual clock, no OSS trigger delivery is queued, no sketch fetch is in flight — and then jumps
 * to the next scheduled event: a sleeper's wake-up, the one-minute timer, or the end of the task
 * DashScope is running.
 *
 * Why not compressed real time: at timeScale 0.005 one real millisecond of our own processing is
 * 0.2 simulated seconds, so on a busy 2-core machine the figures would measure the machine. Here our
 * processing takes zero virtual time and the figures depend only on the pipeline's scheduling
 * decisions (when it polls, submits, sleeps, exits, kicks): the same numbers on any machine.
 * Processing time is measured separately, in real time (result latency, submit latency, FC cost).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../lib/core/ports.js';
import type { LocalFunctionCompute } from '../lib/local/fc.js';
import type { OssEmulator } from '../lib/local/oss/index.js';
import type { DashScopeSimulator } from '../lib/local/dashscope/index.js';

/** Per-invocation accounting, carried through the handler's async chain. */
export interface SleepAccount {
  /** Real ms spent blocked in virtual sleeps (not processing). */
  sleptRealMs: number;
  /** Called when the invocation goes to sleep (a poller pass boundary). */
  onSleep?: (ms: number) => void;
}

export const invocationScope = new AsyncLocalStorage<SleepAccount>();

interface Sleeper {
  at: number;
  seq: number;
  realStart: number;
  account?: SleepAccount;
  resolve: () => void;
}

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private sleepers: Sleeper[] = [];
  private deadlines = new Set<{ at: number; controller: AbortController }>();

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    const account = invocationScope.getStore();
    account?.onSleep?.(ms);
    return new Promise((resolve) => {
      const s: Sleeper = { at: this.t + Math.max(0, ms), seq: this.seq++, realStart: performance.now(), account, resolve };
      this.sleepers.push(s);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          this.wake(s);
        },
        { once: true },
      );
    });
  }

  /** A deadline on this clock: fires when time is moved past it; not a sleeper (nobody waits on it). */
  deadline(ms: number): { signal: AbortSignal; clear(): void } {
    const controller = new AbortController();
    const timer = { at: this.t + Math.max(0, ms), controller };
    this.deadlines.add(timer);
    return { signal: controller.signal, clear: () => void this.deadlines.delete(timer) };
  }

  /** Invocations blocked in sleep() right now. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  nextWake(): number | undefined {
    let next: number | undefined;
    for (const s of [...this.sleepers, ...this.deadlines]) if (next === undefined || s.at < next) next = s.at;
    return next;
  }

  /** Moves time forward to `t` without waking anyone yet (advanceTo wakes). */
  setNow(t: number): void {
    if (t > this.t) this.t = t;
  }

  /** Moves time forward to `t` and wakes every sleeper due by then (earliest first). */
  advanceTo(t: number): void {
    this.setNow(t);
    for (const d of [...this.deadlines]) {
      if (d.at > this.t) continue;
      this.deadlines.delete(d);
      d.controller.abort(new Error('deadline passed'));
    }
    const due = this.sleepers.filter((s) => s.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) this.wake(s);
  }

  private wake(s: Sleeper): void {
    if (s.account) s.account.sleptRealMs += performance.now() - s.realStart;
    s.resolve();
  }
}

export interface VirtualWorld {
  clock: VirtualClock;
  fc: LocalFunctionCompute;
  oss: OssEmulator;
  sim: DashScopeSimulator;
}

/**
 * Resolves once nothing can happen without time moving: every asynchronous invocation (the only
 * kind the virtual phases use) is asleep on the virtual clock or done, no trigger delivery is
 * queued and the simulator fetches no sketch. Checked twice in a row, an event-loop turn apart and
 * with the trigger queue and the fetches awaited each time, so a delivery queued by the last
 * write of an invocation that has just gone to sleep is not mistaken for silence.
 */
export async function quiescent(w: VirtualWorld, realDeadline: number): Promise<void> {
  let stable = 0;
  while (stable < 2) {
    if (Date.now() > realDeadline) throw new Error(`virtual run: no quiescence before the real-time deadline (busy ${w.fc.busy}, sleeping ${w.clock.sleeping})`);
    await w.oss.settled();
    await w.sim.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
    stable = w.fc.busy === w.clock.sleeping ? stable + 1 : 0;
  }
}

/** Simulated time at which DashScope's running task ends (the simulator's next event), if any. */
export function nextTaskEnd(sim: DashScopeSimulator, taskIds: Iterable<string>): number | undefined {
  let next: number | undefined;
  for (const id of taskIds) {
    const t = sim.task(id);
    if (t?.status !== 'RUNNING' || t.scheduledAt === undefined) continue;
    const end = t.scheduledAt + t.duration;
    if (next === undefined || end < next) next = end;
  }
  return next;
}

export interface TimerSpec {
  everyMs: number;
  next: number;
  fire(at: number): void;
}

/**
 * Runs the world until `done()` (checked at every quiescent point), jumping from event to event.
 * Both clocks move before anyone is woken, so a poller waking at the instant a task ends sees it
 * ended, and the completion event that DashScope sends at that instant starts its invocation at it.
 */
export async function runVirtual(
  w: VirtualWorld,
  options: { done: () => boolean; timer?: TimerSpec; maxVirtualMs: number; realTimeoutMs: number },
): Promise<{ steps: number }> {
  const start = w.clock.now();
  const realDeadline = Date.now() + options.realTimeoutMs;
  const live = new Set<string>();
  let seenCreates = 0;
  for (let steps = 0; ; steps++) {
    await quiescent(w, realDeadline);
    if (options.done()) return { steps };
    const creates = w.sim.records.creates;
    for (; seenCreates < creates.length; seenCreates++) {
      const id = creates[seenCreates]!.taskId;
      if (id) live.add(id);
    }
    for (const id of live) {
      const status = w.sim.task(id)?.status;
      if (status !== 'PENDING' && status !== 'RUNNING') live.delete(id);
    }
    const candidates = [w.clock.nextWake(), options.timer?.next, nextTaskEnd(w.sim, live)].filter((x): x is number => x !== undefined);
    if (candidates.length === 0) throw new Error('virtual run: nothing scheduled, nothing running, and not done');
    const next = Math.max(w.clock.now(), Math.min(...candidates));
    if (next - start > options.maxVirtualMs) throw new Error(`virtual run: not done after ${options.maxVirtualMs / 1000} virtual seconds`);
    const delta = next - w.sim.now();
    w.clock.setNow(next);
    if (delta > 0) w.sim.advance(delta);
    await w.sim.flush();
    w.clock.advanceTo(next);
    if (options.timer && next >= options.timer.next) {
      options.timer.fire(next);
      options.timer.next += options.timer.everyMs;
    }
  }
}
