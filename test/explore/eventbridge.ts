/**
 * EventBridge as the poller function sees DashScope's completion events (SPEC §4 "Completion
 * events", docs/reference/events.md): each task that ends SUCCEEDED or FAILED — and CANCELED when
 * the plan says so, since no source confirms DashScope publishes that — is pushed to an `event`
 * invocation (`onTaskFinished`) a moment later, or lost, duplicated, or late enough to overtake
 * another's (out of order); now and then one arrives for a task no one created. A task's event can
 * also come before its create's reply is recorded (a short task, a slow or stalled submitter).
 * A system actor sleeps until DashScope's next task ends, so each event goes out at its task's
 * end, not whenever some call happens to look at DashScope.
 */
import type { TaskFinished } from '../../lib/events/dashscope.js';
import type { FakeDashScope, FakeTask } from './ports/dashscope.js';
import type { Faults } from './ports/faults.js';
import type { Rng } from './rng.js';
import type { Actor, Scheduler } from './scheduler.js';

export interface EventsPlan {
  /** False: no trigger delivers anything (EventBridge not set up): the rest's safety kick and the timer must do. */
  delivered: boolean;
  /** Whether a canceled task has an event too. */
  canceled: boolean;
  /** Per finished task, the chance of an extra event for a task no one created. */
  strayRate: number;
}

export interface EventHost {
  spawnTaskEvent(events: TaskFinished[], name: string, at: number): Actor;
  stopped(): boolean;
}

/** How long the actor sleeps with nothing live (a create wakes it). */
const IDLE_MS = 60_000;
const EVENT_FAULTS = [
  ['lost', 3],
  ['duplicate', 2],
  ['late', 2],
] as const;

export class EventBridge {
  private wake: AbortController | undefined;
  private seq = 0;
  private strays = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly fake: FakeDashScope,
    private readonly faults: Faults,
    private readonly rng: Rng | undefined,
    private readonly plan: EventsPlan,
    private readonly host: EventHost,
    private readonly trace?: (line: string) => void,
  ) {}

  start(): Actor | undefined {
    if (!this.plan.delivered) return undefined;
    this.fake.onFinish = (t) => this.finished(t);
    return this.sched.spawn(
      'eventbridge',
      'timer',
      async (actor) => {
        while (!this.host.stopped()) {
          // Moving DashScope on to now publishes the events of the tasks that ended (onFinish).
          const at = this.fake.nextChangeAt();
          const wake = new AbortController();
          this.wake = wake;
          await this.sched.sleep(actor, at === Infinity ? IDLE_MS : Math.max(1, at - this.sched.now), wake.signal);
        }
      },
      { system: true },
    );
  }

  /** A create changed what DashScope runs when: look again. */
  poke(): void {
    this.wake?.abort();
  }

  private finished(t: FakeTask): void {
    if (t.status === 'CANCELED' && !this.plan.canceled) return;
    const endAt = t.endAt ?? this.sched.now;
    const event: TaskFinished = { taskId: t.id, status: t.status, model: t.create.model };
    const fault = this.faults.choose(undefined, 'event', EVENT_FAULTS, t.id);
    if (fault === 'lost') this.trace?.(`EVENTBRIDGE loses the event of task …${t.id.slice(-4)}`);
    else {
      for (let copy = fault === 'duplicate' ? 2 : 1; copy > 0; copy--) {
        this.send([event], endAt + (fault === 'late' ? this.int(2000, 8000) : this.int(5, 600)), fault);
      }
    }
    if (this.rng?.chance(this.plan.strayRate)) this.send([{ taskId: `stray-${++this.strays}`, status: 'SUCCEEDED', model: t.create.model }], this.sched.now + this.int(5, 600), 'stray');
  }

  private send(events: TaskFinished[], at: number, why: string | undefined): void {
    const name = `event#${++this.seq}`;
    this.trace?.(`EVENTBRIDGE ${name} for task …${events[0]!.taskId.slice(-4)} (${events[0]!.status}${why ? `, ${why}` : ''}) at +${Math.max(0, at - this.sched.now)}ms`);
    this.host.spawnTaskEvent(events, name, Math.max(at, this.sched.now));
  }

  private int(min: number, max: number): number {
    return this.rng ? this.rng.int(min, max) : min;
  }
}
