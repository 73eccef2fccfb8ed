/**
 * One schedule's world: the in-memory bucket, table and DashScope account, Function Compute
 * delivering events and running pollers, the user, and the real core (`onObjectCreated`,
 * `runPoller`) invoked by those actors through per-invocation ports. The checks watch it all.
 */
import { loadConfig, type Config } from '../../lib/config.js';
import { isTerminal, type JobRecord } from '../../lib/core/records.js';
import { jobIdOf } from '../../lib/contract/keys.js';
import type { CoreDeps } from '../../lib/core/deps.js';
import { runPoller, STOP_BEFORE_TIMEOUT_MS } from '../../lib/core/poller.js';
import { onObjectCreated } from '../../lib/core/submit.js';
import { onTaskFinished } from '../../lib/core/task-events.js';
import type { TaskFinished } from '../../lib/events/dashscope.js';
import type { OssEventRecord } from '../../lib/events/oss.js';
import { EventBridge } from './eventbridge.js';
import type { BreakSpec } from './breaks.js';
import { Checks } from './checks.js';
import { FunctionCompute } from './fc.js';
import type { Plan } from './plan.js';
import type { Policy } from './policy.js';
import { FakeDashScope } from './ports/dashscope.js';
import { Faults } from './ports/faults.js';
import { directModel } from './ports/model-direct.js';
import { wireModel } from './ports/model-wire.js';
import { MemoryBucket } from './ports/objects.js';
import { objectsPort } from './ports/objects.js';
import { MemoryTable, rowsPort } from './ports/rows.js';
import type { Rng } from './rng.js';
import { Scheduler, type Actor, type Op } from './scheduler.js';
import { Trace, traceLogger } from './trace.js';
import { User } from './user.js';
import { Versions } from './versions.js';

export interface WorldOptions {
  trace?: boolean | 'full';
  brk?: BreakSpec;
  /** False: writes raise no OSS events (a scenario starts submits itself). */
  events?: boolean;
}

const configs = new Map<string, Config>();

/** loadConfig, once per distinct environment (the core never changes its Config). */
function configFor(env: Record<string, string>): Config {
  const key = JSON.stringify(env);
  let config = configs.get(key);
  if (!config) configs.set(key, (config = loadConfig(env)));
  return config;
}

function shanghaiDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

function nextShanghaiMidnight(ms: number): number {
  const day = 86_400_000;
  return Math.floor((ms + 8 * 3600_000) / day) * day + day - 8 * 3600_000;
}

/** A schedule this long (in steps) is stuck, whatever its virtual clock says. */
const MAX_STEPS = 20_000;

const SUBMIT_TIMEOUT_MS = 60_000;

export class World {
  readonly sched: Scheduler;
  readonly config: Config;
  readonly faults: Faults;
  readonly bucket: MemoryBucket;
  readonly table = new MemoryTable();
  readonly fake: FakeDashScope;
  readonly versions = new Versions();
  readonly checks: Checks;
  readonly fc: FunctionCompute;
  readonly eventBridge: EventBridge;
  readonly user: User;
  readonly trace: Trace | undefined;
  private done = false;
  private pollers = 0;

  constructor(
    readonly plan: Plan,
    readonly rng: Rng | undefined,
    readonly options: WorldOptions = {},
  ) {
    this.config = configFor(plan.env);
    const trace = options.trace ? new Trace(() => this.sched.now, plan.start, options.trace === 'full') : undefined;
    this.trace = trace;
    this.sched = new Scheduler(plan.start, {
      disturbed: (actor) => this.checks.disturbed(actor),
      ...(trace ? { trace: (line: string, port?: string, name?: string) => (trace.wants(port, name) || line.includes(' → ')) && trace.add(line) } : {}),
    });
    this.faults = new Faults(rng, plan.rates);
    this.faults.onFault = (actor, kind, value, detail) => {
      this.checks.disturbed(actor);
      trace?.add(`${actor?.name ?? '-'} FAULT ${kind}=${value} ${detail}`);
    };
    this.bucket = new MemoryBucket(this.config.oss.bucket, () => this.sched.now);
    this.fake = new FakeDashScope(() => this.sched.now, this.faults, this.config.dashscope.timeoutMs);
    this.fc = new FunctionCompute(this.sched, this, plan, rng, this.faults, this.config.sketchPrefix, this.config.oss.bucket);
    this.eventBridge = new EventBridge(this.sched, this.fake, this.faults, rng, plan.events, this, trace ? (line) => trace.add(line) : undefined);
    this.user = new User(this.sched, this.bucket, this.versions);
    this.checks = new Checks({
      now: () => this.sched.now,
      step: () => this.sched.steps,
      start: plan.start,
      maxInFlight: this.config.maxInFlight,
      maxImagesPerDay: this.config.maxImagesPerDay,
      jobKeys: plan.jobs.map((j) => j.jobKey),
      fake: this.fake,
      bucket: this.bucket,
      table: this.table,
      versions: this.versions,
      failureDestination: this.fc.failureDestination,
    });
    if (trace) this.checks.onReport = (v) => trace.add(`!!! VIOLATION [${v.invariant}] ${v.message}`);
    this.fake.onCreate = (record) => {
      this.checks.onCreate(record);
      this.eventBridge.poke();
      trace?.add(`${record.actor} DASHSCOPE create #${record.seq} "${record.prompt}" ${record.style} → ${record.cls}${record.taskId ? ` task …${record.taskId.slice(-4)}` : ''}`);
    };
    this.fake.onLost = (task) => {
      this.checks.lost(task);
      trace?.add(`DASHSCOPE loses task …${task.id.slice(-4)} (${task.fate})`);
    };
    this.table.onPut = (kind, _id, value) => this.checks.onRowPut(kind, value);
    this.bucket.onWrite = (key, obj, writer) => {
      if (writer === 'core') this.checks.onObjectWritten(key, obj);
      else trace?.add(`user uploads ${key} (${obj.etag.slice(0, 6)}${obj.meta.style ? ` ${obj.meta.style}` : ''}${obj.meta.prompt ? ` "${obj.meta.prompt}"` : ''})`);
      if (options.events !== false) this.fc.objectWritten(key, obj, writer);
    };
  }

  stopped(): boolean {
    return this.done;
  }

  /** The CoreDeps of one invocation: every port call of it is a scheduling point of `actor`. */
  depsFor(actor: Actor): CoreDeps {
    const { sched, faults, plan } = this;
    const brk = this.options.brk?.apply;
    let model = plan.wire ? wireModel(sched, actor, this.fake, this.config.dashscope.timeoutMs) : directModel(sched, actor, this.fake);
    if (brk?.model) model = brk.model(model);
    const deps: CoreDeps = {
      config: this.config,
      objects: objectsPort(sched, actor, this.bucket, faults),
      rows: rowsPort(sched, actor, this.table, faults),
      model,
      clock: {
        now: () => sched.now,
        sleep: (ms, signal) => sched.sleep(actor, ms, signal),
        // A second chain of the actor, asleep beside the guarded call (the scheduler allows it).
        deadline: (ms) => {
          const fired = new AbortController();
          const cleared = new AbortController();
          void sched.sleep(actor, ms, cleared.signal).then(() => {
            if (!cleared.signal.aborted) fired.abort(new Error(`deadline of ${ms} ms passed`));
          });
          return { signal: fired.signal, clear: () => cleared.abort() };
        },
      },
      log: traceLogger(this.trace, actor.name),
      ...(plan.kicker ? { kicker: this.fc.kicker(actor) } : {}),
      owner: actor.name,
      checkpoint: (name, jobKey) => sched.call(actor, 'checkpoint', name, jobKey ?? '', () => undefined),
      random: this.rng ? this.rng.float : () => 0.5,
      ...(actor.diesAt !== undefined ? { deadline: actor.diesAt } : {}),
    };
    return brk?.deps ? brk.deps(deps) : deps;
  }

  spawnSubmit(record: OssEventRecord, name: string, at?: number): Actor {
    // FC stops an invocation at its timeout (s.yaml: 60 s for submit).
    return this.sched.spawn(name, 'submit', (actor) => onObjectCreated(this.depsFor(actor), record), { timeoutMs: SUBMIT_TIMEOUT_MS, ...(at === undefined ? {} : { at }) });
  }

  spawnPoller(reason: string, at: number): Actor {
    // As the handler does: only the timer sweeps the active jobs and reads the bucket, not kicks.
    const sweep = !reason.startsWith('kick');
    // As s.yaml sets it: the poller's timeout is its loop budget plus the 10 s it keeps in hand.
    return this.sched.spawn(`poller#${++this.pollers}(${reason})`, 'poller', (actor) => runPoller(this.depsFor(actor), { budgetMs: this.config.pollBudgetMs, sweep }), {
      at,
      timeoutMs: this.config.pollBudgetMs + STOP_BEFORE_TIMEOUT_MS,
    });
  }

  /** A completion event reaches the poller function (the same function, so the same timeout). */
  spawnTaskEvent(events: TaskFinished[], name: string, at: number): Actor {
    return this.sched.spawn(name, 'event', (actor) => onTaskFinished(this.depsFor(actor), events), { at, timeoutMs: this.config.pollBudgetMs + STOP_BEFORE_TIMEOUT_MS });
  }

  /** The user's uploads, the poller's timer and DashScope's completion events. */
  startActors(): void {
    this.user.start(this.plan.jobs, this.plan.start);
    this.fc.startTimer(this.plan.timerPeriodMs);
    this.eventBridge.start();
  }

  /** Stall length: past both the submit lease and the poller's lease. */
  stallMs(_op: Op): number {
    const submitLease = 2 * this.config.dashscope.timeoutMs + 1000;
    const pollerLease = this.config.pollBudgetMs + Math.min(15_000, Math.max(500, this.config.pollBudgetMs / 4));
    return Math.max(submitLease, pollerLease) + (this.rng ? this.rng.int(100, 2500) : 1000);
  }

  /**
   * Nothing left to do: only the timer waits, DashScope holds no live task, and every job's row
   * is terminal at its newest upload.
   */
  atRest(): boolean {
    for (const op of this.sched.ops) if (op.actor.kind !== 'timer') return false;
    if (this.fake.live() > 0) return false;
    for (const job of this.plan.jobs) {
      const newest = this.versions.newest(job.jobKey);
      if (!newest) continue;
      const cur = this.table.get<JobRecord>('job', jobIdOf(job.jobKey))?.value.current;
      if (!cur || !isTerminal(cur.state) || cur.sketch.etag !== newest.sketchEtag || cur.sidecar?.etag !== newest.sidecarEtag) return false;
    }
    return true;
  }

  /** Runs the schedule: faults until the plan says, then quiet until at rest (or a bound). */
  async run(policy: Policy): Promise<{ rested: boolean; why: string }> {
    const { sched, faults, plan } = this;
    const faultsEnd = plan.start + plan.faultsForMs;
    let quietDeadline = Infinity;
    let nights = 0;
    try {
      for (;;) {
        if (faults.phase === 'faults' && sched.now >= faultsEnd) {
          faults.phase = 'quiet';
          quietDeadline = sched.now + plan.quietLimitMs;
          this.trace?.add('— faults stop —');
        }
        const choice = policy.choose(sched);
        if (!choice) {
          const next = sched.nextReadyAt();
          if (next === Infinity) return { rested: this.atRest(), why: 'every actor is blocked for ever' };
          // Never jump over the end of the faults phase: it must start on time.
          sched.now = Math.max(sched.now, faults.phase === 'faults' ? Math.min(next, faultsEnd) : next);
          continue;
        }
        await sched.execute(choice.op, choice.fate);
        this.checks.afterStep();
        policy.afterStep(sched);
        if (faults.phase === 'quiet' && this.atRest()) return { rested: true, why: '' };
        if (faults.phase === 'quiet' && nights < 6 && this.waitingForBudget()) {
          // SPEC §4.6: queued jobs wait for the next day in Shanghai. Let the night pass.
          const next = nextShanghaiMidnight(sched.now) + 1000;
          quietDeadline += next - sched.now;
          sched.now = next;
          nights++;
          this.trace?.add('— the daily budget is used up: the clock jumps to the next day in Shanghai —');
        }
        if (sched.now > quietDeadline) return { rested: false, why: `still busy ${plan.quietLimitMs / 1000} s after faults stopped (${this.busy()})` };
        if (sched.steps > MAX_STEPS) return { rested: false, why: `still busy after ${MAX_STEPS} steps (${this.busy()})` };
      }
    } finally {
      this.done = true;
    }
  }

  /**
   * Nothing live, no invocation at work (a jump would kill it at its timeout), and every
   * unfinished job is QUEUED and too large for what is left of today's budget.
   */
  private waitingForBudget(): boolean {
    const max = this.config.maxImagesPerDay;
    if (max === 0 || this.fake.live() > 0) return false;
    if (this.sched.actors.some((a) => a.live && (a.kind === 'submit' || a.kind === 'poller' || a.kind === 'event') && a.state === 'running')) return false;
    let smallest = Infinity;
    for (const job of this.plan.jobs) {
      const cur = this.table.get<JobRecord>('job', jobIdOf(job.jobKey))?.value.current;
      if (!cur || isTerminal(cur.state)) continue;
      if (cur.state !== 'QUEUED') return false;
      smallest = Math.min(smallest, cur.request?.parameters.n ?? 1);
    }
    const used = this.table.get<{ used: number }>('budget', shanghaiDay(this.sched.now))?.value.used ?? 0;
    // A job that does not fit lets smaller ones go first: only when none fits is the day over.
    return smallest !== Infinity && used + smallest > max;
  }

  /** What keeps the world from rest, for the report. */
  busy(): string {
    const actors = [...new Set(this.sched.ops.filter((o) => o.actor.kind !== 'timer').map((o) => o.actor.name))];
    const jobs = this.plan.jobs
      .map((j) => {
        const cur = this.table.get<JobRecord>('job', jobIdOf(j.jobKey))?.value.current;
        return `${j.jobKey}=${cur ? cur.state : 'unrecorded'}`;
      })
      .join(' ');
    return `live tasks ${this.fake.live()}; actors ${actors.join(', ') || 'none'}; jobs ${jobs}`;
  }
}
