/**
 * Scripted schedules for the scenario tests: the same world as the explorer, but the test says
 * which actor moves, where it stops, when it crashes and what DashScope answers. Stops are named
 * by what the core does (a checkpoint, a port call), not by a seed or a count of calls, so a
 * scenario keeps its meaning when the core's sequence of calls changes.
 */
import { SKETCH_MODEL } from './plan.js';
import type { Config } from '../../lib/config.js';
import type { SlotRecord } from '../../lib/core/records.js';
import type { InvariantId, Violation } from './checks.js';
import type { JobPlan, Plan, UploadWhat } from './plan.js';
import { NO_FAULTS } from './ports/faults.js';
import { ScriptedPolicy } from './policy.js';
import type { Actor, Op } from './scheduler.js';
import { World } from './world.js';

/** 2025-03-10 12:00 in Asia/Shanghai. */
const START = Date.UTC(2025, 2, 10, 4, 0, 0);

export interface ScenarioOptions {
  env?: Record<string, string>;
  jobs: Array<{ name: string; mode?: JobPlan['mode']; n?: number; model?: string }>;
  /** DashScope through the real adapter (lib/adapters/dashscope.ts) over the fake. */
  wire?: boolean;
  /** How long each task runs at DashScope (default 20 s: long enough to outlive a lease). */
  taskMs?: number;
  trace?: boolean;
}

export const isCheckpoint = (name: string) => (op: Op) => op.port === 'checkpoint' && op.name === name;
export const isCall = (port: string, name: string) => (op: Op) => op.port === port && op.name === name;

export class Scenario {
  readonly world: World;
  private readonly policy = new ScriptedPolicy();
  private pollers = 0;
  private submits = 0;

  constructor(options: ScenarioOptions) {
    const jobs: JobPlan[] = options.jobs.map((j) => ({ name: j.name, jobKey: `sketches/${j.name}`, mode: j.mode ?? 'meta', n: j.n ?? 1, square: true, format: 'png' as const, model: j.model ?? SKETCH_MODEL, uploads: [] }));
    const plan: Plan = {
      seed: 0,
      env: {
        DASHSCOPE_API_KEY: 'sk-explorer',
        OSS_BUCKET: 'explorer-bucket',
        TABLESTORE_ENDPOINT: 'https://explorer.cn-beijing.ots.aliyuncs.com',
        TABLESTORE_INSTANCE: 'explorer',
        DASHSCOPE_TIMEOUT_SECONDS: '1',
        POLL_INTERVAL_SECONDS: '0.5',
        POLL_BUDGET_SECONDS: '4',
        PROMPT_GRACE_SECONDS: '30',
        TASK_EVENTS: 'off', // the scripts drive the pollers themselves
        MAX_IMAGES_PER_DAY: '0',
        ...options.env,
      },
      start: START,
      wire: options.wire ?? false,
      kicker: false,
      jobs,
      rates: NO_FAULTS,
      crashRate: 0,
      stallRate: 0,
      faultsForMs: 0,
      timerPeriodMs: 2000,
      stepMaxMs: 0,
      fc: { duplicateRate: 0, lateRate: 0, outputRate: 0, retryDelayMs: [1000, 1000] },
      quietLimitMs: 300_000,
      events: { delivered: false, canceled: false, strayRate: 0 },
    };
    this.world = new World(plan, undefined, { events: false, ...(options.trace ? { trace: 'full' as const } : {}) });
    this.world.fake.taskDurationMs = options.taskMs ?? 20_000;
  }

  get config(): Config {
    return this.world.config;
  }

  /** The submit lease (SPEC §4.2: twice the DashScope request timeout plus 1 s). */
  get submitLeaseMs(): number {
    return 2 * this.config.dashscope.timeoutMs + 1000;
  }

  private job(name: string): JobPlan {
    const job = this.world.plan.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`no job ${name}`);
    return job;
  }

  upload(name: string, what: UploadWhat = 'sketch'): void {
    this.world.user.upload(this.job(name), what);
  }

  /** A submit invocation for the job's sketch upload event. */
  submit(name: string): Actor {
    const key = `${this.job(name).jobKey}.png`;
    const obj = this.world.bucket.objects.get(key);
    if (!obj) throw new Error(`${key} was not uploaded`);
    return this.world.spawnSubmit(this.world.fc.recordFor(key, obj), `submit-${name}#${++this.submits}`);
  }

  poller(): Actor {
    return this.world.spawnPoller(`test#${++this.pollers}`, this.world.sched.now);
  }

  /**
   * Runs `actor` alone (time moving to its next op when it sleeps) until its next op matches
   * `stop` — which is left pending and returned — or it ends.
   */
  async runUntil(actor: Actor, stop?: (op: Op) => boolean, maxSteps = 20_000): Promise<Op | undefined> {
    const { sched } = this.world;
    for (let i = 0; i < maxSteps; i++) {
      if (!actor.live) return undefined;
      let next: Op | undefined;
      for (const op of actor.pending) if (!next || op.readyAt < next.readyAt || (op.readyAt === next.readyAt && op.seq < next.seq)) next = op;
      if (!next) throw new Error(`${actor.name} is live but waits on nothing`);
      if (stop?.(next)) return next;
      if (next.readyAt === Infinity) throw new Error(`${actor.name} waits on another actor`);
      if (next.readyAt > sched.now) sched.now = next.readyAt;
      await sched.execute(next);
      this.world.checks.afterStep();
    }
    throw new Error(`${actor.name} did not stop within ${maxSteps} steps`);
  }

  async runToEnd(actor: Actor): Promise<void> {
    await this.runUntil(actor);
  }

  /** Runs exactly this pending op (e.g. the one a runUntil stopped at). */
  async step(op: Op): Promise<void> {
    const { sched } = this.world;
    if (op.readyAt > sched.now) sched.now = op.readyAt;
    await sched.execute(op);
    this.world.checks.afterStep();
  }

  crash(actor: Actor): void {
    this.world.sched.crash(actor);
  }

  advance(ms: number): void {
    this.world.sched.now += ms;
  }

  slots(): SlotRecord[] {
    return this.world.table.all<SlotRecord>('slot').map((r) => r.value);
  }

  liveTaskIds(): string[] {
    return this.world.fake.liveTasks().map((t) => t.id);
  }

  /** Everything runs, no faults, pollers on the timer, until at rest; then the end-of-run checks. */
  async settle(): Promise<Violation[]> {
    this.world.fc.startTimer(this.world.plan.timerPeriodMs);
    this.policy.allow = undefined;
    const { rested, why } = await this.world.run(this.policy);
    this.world.checks.final(rested, why);
    return this.world.checks.violations;
  }

  violations(ids?: InvariantId[]): string[] {
    return this.world.checks.violations.filter((v) => !ids || ids.includes(v.invariant)).map((v) => `[${v.invariant}] ${v.message}`);
  }
}
