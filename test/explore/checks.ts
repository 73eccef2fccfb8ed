/**
 * The invariants, checked against what the fakes saw (creates, tasks, bucket writes) and the
 * user's own record of versions, never against the pipeline's idea of what happened: after every
 * step (live tasks), on every write (manifests, result images, job rows) and at the end of the
 * schedule (every version at rest, counted, the newest one winning).
 */
import { belongsToJob, jobIdOf, manifestKey } from '../../lib/contract/keys.js';
import type { Manifest } from '../../lib/contract/manifest.js';
import { isTerminal, type JobRecord, type SlotRecord } from '../../lib/core/records.js';
import type { FailedEvent } from './fc.js';
import { CREATED_CLASSES, type CreateRecord, type FakeDashScope, type FakeTask, resultTagOf } from './ports/dashscope.js';
import type { MemoryBucket, StoredObject } from './ports/objects.js';
import { pngTag } from './ports/png.js';
import type { MemoryTable } from './ports/rows.js';
import type { Actor } from './scheduler.js';
import { inFlightLimit, isKnownModel, modelSpec } from '../../lib/models/index.js';
import type { Versions, WorldVersion } from './versions.js';

export type InvariantId =
  | 'bounded-in-flight'
  | 'counted'
  | 'pay-once'
  | 'attempts-counted'
  | 'newest-wins'
  | 'own-task'
  | 'nothing-lost'
  | 'refusal-adds-nothing'
  | 'budget'
  | 'no-blame'
  | 'consistent-version';

export const INVARIANTS: ReadonlyArray<[InvariantId, string]> = [
  ['bounded-in-flight', '(a) never more than MAX_IN_FLIGHT live tasks at DashScope'],
  ['counted', '(a) every live task is counted by a slot: held by one, or the create of a claim still SUBMITTING'],
  ['pay-once', '(b) extra creates of a version only of SPEC §4.2 kinds (a) and (b)'],
  ['attempts-counted', '(c) the final manifest counts every create in task.attempts'],
  ['newest-wins', '(d) the newest upload wins; no older version overwrites a newer one'],
  ['own-task', "(e) no job gets another job's task or images"],
  ['nothing-lost', '(f) every accepted version ends terminal with a manifest once faults stop'],
  ['refusal-adds-nothing', '(g) a create refused with a body adds nothing live'],
  ['budget', 'SPEC §4.6 at most MAX_IMAGES_PER_DAY images paid per day'],
  ['no-blame', 'SPEC §4 issue 13 runs 6–7: no job fails for an account or infrastructure fault'],
  ['consistent-version', 'a manifest describes one version the user uploaded (its etags and its prompt)'],
];

/** Failure codes a valid sketch may legitimately end with under the faults the fakes inject. */
const LEGIT_FAILURES = new Set(['MissingPrompt', 'TaskLost', 'InvalidParameter', 'InvalidParameter.DataInspection', 'ResultDownloadFailed', 'DataInspectionFailed', 'NoResults']);

export interface Violation {
  invariant: InvariantId;
  message: string;
  /** Virtual ms since the schedule started. */
  at: number;
  step: number;
}

interface CreateMeta {
  record: CreateRecord;
  step: number;
  version: WorldVersion | undefined;
  /** The step of the first event that may explain a later create of this version (SPEC §4.2). */
  explainedAt: number;
}

export interface CheckContext {
  now(): number;
  step(): number;
  start: number;
  maxInFlight: number;
  maxImagesPerDay: number;
  jobKeys: string[];
  fake: FakeDashScope;
  bucket: MemoryBucket;
  table: MemoryTable;
  versions: Versions;
  failureDestination: FailedEvent[];
}

/** The uploads' Last-Modified seconds a manifest source (or version record) names, if it does. */
function secondsOf(source: { lastModified?: string; sidecar?: { lastModified?: string } }): { sketch?: number; sidecar?: number } {
  const s = (iso?: string) => (iso ? Math.floor(Date.parse(iso) / 1000) : undefined);
  const sketch = s(source.lastModified);
  const sidecar = s(source.sidecar?.lastModified);
  return { ...(sketch !== undefined ? { sketch } : {}), ...(sidecar !== undefined ? { sidecar } : {}) };
}

function shanghaiDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

export class Checks {
  readonly violations: Violation[] = [];
  private readonly seen = new Set<InvariantId>();
  private readonly paidOn = new Map<string, string[]>();
  /** Each job row's current version as it was written, in order (what the core held when). */
  private readonly rowHistory = new Map<string, Array<{ at: number; current: JobRecord['current'] }>>();
  private readonly creates: CreateMeta[] = [];
  private readonly byTask = new Map<string, CreateMeta>();
  private readonly byActor = new Map<number, CreateMeta[]>();
  private readonly imagesByDay = new Map<string, number>();
  private readonly lastManifest = new Map<string, WorldVersion>();
  maxLive = 0;
  /** The live-task count at DashScope, as [step, count] each time it changed. */
  readonly liveHistory: Array<[number, number]> = [];
  /** Told of each violation as it is found (the trace marks the moment). */
  onReport: ((v: Violation) => void) | undefined;

  constructor(private readonly ctx: CheckContext) {}

  report(invariant: InvariantId, message: string): void {
    if (this.seen.has(invariant)) return;
    this.seen.add(invariant);
    const v: Violation = { invariant, message, at: this.ctx.now() - this.ctx.start, step: this.ctx.step() };
    this.violations.push(v);
    this.onReport?.(v);
  }

  // ------------------------------------------------------------------ hooks

  onCreate(record: CreateRecord): void {
    const created = CREATED_CLASSES.has(record.cls);
    const meta: CreateMeta = {
      record,
      step: this.ctx.step(),
      version: this.versionSent(record) ?? this.ctx.versions.ofRequest(record.prompt, record.style, record.sentAt),
      explainedAt: created && record.cls !== 'ok' ? this.ctx.step() : Infinity,
    };
    this.creates.push(meta);
    if (!created) {
      if (record.taskId) this.report('refusal-adds-nothing', `create #${record.seq} (${record.cls}) was refused yet made task ${record.taskId}`);
      return;
    }
    this.byTask.set(record.taskId!, meta);
    const list = this.byActor.get(record.actorId) ?? [];
    list.push(meta);
    this.byActor.set(record.actorId, list);
    if (!meta.version) this.report('pay-once', `${record.actor} paid for a create no upload asked for (prompt "${record.prompt}", style ${record.style})`);
    if (this.ctx.maxImagesPerDay > 0) {
      // The day the pipeline sent it: the budget is ours, reckoned on our clock (SPEC §4.6).
      const day = shanghaiDay(record.sentAt);
      const used = (this.imagesByDay.get(day) ?? 0) + record.n;
      this.imagesByDay.set(day, used);
      this.paidOn.set(day, [...(this.paidOn.get(day) ?? []), `#${record.seq}×${record.n}`]);
      if (used > this.ctx.maxImagesPerDay) this.report('budget', `${used} images paid on ${day} with MAX_IMAGES_PER_DAY=${this.ctx.maxImagesPerDay} (create #${record.seq} by ${record.actor}; that day: ${this.paidOn.get(day)!.join(' ')})`);
    }
  }

  /**
   * The version the core meant: its job row's current version when the create was sent (the core
   * sends only the version its row holds), when that row's request is this create's. Uploads of
   * identical bytes send identical requests; only the row tells them apart.
   */
  private versionSent(record: CreateRecord): WorldVersion | undefined {
    if (!record.sketchKey) return undefined;
    const dot = record.sketchKey.lastIndexOf('.');
    const jobKey = dot > 0 ? record.sketchKey.slice(0, dot) : record.sketchKey;
    // The version last claimed (SUBMITTING) before the create was sent: a create goes out only
    // under a claim, and the row may have moved on (a newer upload) before the request arrived.
    const cur = (this.rowHistory.get(jobKey) ?? []).filter((h) => h.at <= record.sentAt && h.current.state === 'SUBMITTING').at(-1)?.current;
    if (!cur || cur.request?.prompt !== record.prompt) return undefined;
    const v = this.ctx.versions.ofFiles(jobKey, cur.sketch.etag, cur.sidecar?.etag, secondsOf({ ...(cur.sketch.lastModified ? { lastModified: cur.sketch.lastModified } : {}), ...(cur.sidecar ? { sidecar: cur.sidecar } : {}) }));
    return v && v.prompt === record.prompt && v.style === record.style ? v : undefined;
  }

  /** A crash, stall or injected fault hit `actor`: creates it made so far may go unrecorded. */
  disturbed(actor: Actor | undefined): void {
    if (!actor) return;
    const step = this.ctx.step();
    for (const m of this.byActor.get(actor.id) ?? []) if (m.explainedAt === Infinity) m.explainedAt = step;
  }

  lost(task: FakeTask): void {
    const m = this.byTask.get(task.id);
    if (m) m.explainedAt = Math.min(m.explainedAt, this.ctx.step());
  }

  afterStep(): void {
    const live = this.ctx.fake.live();
    if (live > 0) this.checkCounted();
    if (live !== this.liveHistory[this.liveHistory.length - 1]?.[1]) this.liveHistory.push([this.ctx.step(), live]);
    if (live > this.maxLive) this.maxLive = live;
    if (live > 0) {
      // Per model: its concurrency plus MAX_IN_FLIGHT − 1 (SPEC §4.3; 2, 3 and 6 by default).
      const byModel = new Map<string, FakeTask[]>();
      for (const t of this.ctx.fake.liveTasks()) byModel.set(t.create.model, [...(byModel.get(t.create.model) ?? []), t]);
      for (const [model, tasks] of byModel) {
        const limit = isKnownModel(model) ? inFlightLimit(modelSpec(model), this.ctx.maxInFlight) : this.ctx.maxInFlight;
        if (tasks.length > limit) this.report('bounded-in-flight', `${tasks.length} live ${model} tasks with a bound of ${limit} (MAX_IN_FLIGHT=${this.ctx.maxInFlight}): ${tasks.map((t) => `${t.id.slice(-4)} (${t.create.prompt})`).join(', ')}`);
      }
    }
  }

  /**
   * The bound holds by construction only if every live task is counted by a slot: one holds its
   * id, or it is the yet unrecorded task of a claim still SUBMITTING (each claim makes at most one).
   */
  private checkCounted(): void {
    const rows = this.ctx.table.all<SlotRecord>('slot');
    const held = new Set(rows.map((r) => r.value.taskId).filter((id): id is string => id !== undefined));
    const untracked = this.ctx.fake.liveTasks().filter((t) => !held.has(t.id));
    for (const model of new Set(untracked.map((t) => t.create.model))) {
      // Slot ids are `<model>#NN`: each model's slots count its own tasks.
      const claims = rows.filter((r) => r.id.startsWith(`${model}#`) && r.value.state === 'submitting').length;
      const mine = untracked.filter((t) => t.create.model === model);
      if (mine.length > claims) {
        this.report('counted', `${mine.length} live ${model} task(s) no slot counts (${mine.map((t) => `${t.id.slice(-4)} "${t.create.prompt}"`).join(', ')}) with ${claims} claim(s) in progress`);
      }
    }
  }

  onRowPut(kind: string, value: unknown): void {
    if (kind !== 'job') return;
    const job = value as Partial<JobRecord>;
    if (job.jobKey && job.current) {
      const history = this.rowHistory.get(job.jobKey) ?? [];
      history.push({ at: this.ctx.now(), current: job.current });
      this.rowHistory.set(job.jobKey, history);
    }
    const taskId = job.current?.taskId;
    if (!taskId || !job.jobKey) return;
    const m = this.byTask.get(taskId);
    if (m?.version && m.version.jobKey !== job.jobKey) {
      this.report('own-task', `${job.jobKey} took task ${taskId}, created for ${m.version.jobKey} ("${m.record.prompt}")`);
    }
  }

  onObjectWritten(key: string, obj: StoredObject): void {
    if (key.endsWith('.result.json')) this.manifestWritten(key.slice(0, -'.result.json'.length), obj);
    else if (/\.result-\d+\.png$/.test(key)) this.resultWritten(key, obj);
  }

  private manifestWritten(jobKey: string, obj: StoredObject): void {
    const m = JSON.parse(obj.bytes.toString('utf8')) as Manifest;
    const v = this.versionOf(jobKey, m);
    if (!v) return;
    const last = this.lastManifest.get(jobKey);
    if (last && last.seq > v.seq) this.report('newest-wins', `${jobKey}: the manifest of v${v.seq} overwrote the newer v${last.seq}'s`);
    else this.lastManifest.set(jobKey, v);
    const taskId = m.task?.id;
    if (!taskId) return;
    const c = this.byTask.get(taskId);
    if (!c) this.report('own-task', `${jobKey}: its manifest names task ${taskId}, which DashScope never created`);
    else if (c.version && c.version.jobKey !== jobKey) this.report('own-task', `${jobKey}: its manifest names task ${taskId}, created for ${c.version.jobKey} ("${c.record.prompt}")`);
    else if (c.version && !this.ctx.versions.runOf(v).includes(c.version)) this.report('newest-wins', `${jobKey}: the manifest of v${v.seq} names task ${taskId}, created for v${c.version.seq} ("${c.record.prompt}")`);
  }

  /** The uploaded version a manifest describes; reports one that matches no upload. */
  private versionOf(jobKey: string, m: Manifest): WorldVersion | undefined {
    const v = this.ctx.versions.ofFiles(jobKey, m.source.etag, m.source.sidecar?.etag, secondsOf(m.source));
    if (!v) {
      this.report('consistent-version', `${jobKey}: a manifest names files never uploaded together (sketch ${m.source.etag.slice(0, 8)}, sidecar ${m.source.sidecar?.etag.slice(0, 8) ?? '-'})`);
      return undefined;
    }
    if (m.request && (m.request.prompt !== v.prompt || (m.request.parameters.style ?? '') !== v.style)) {
      this.report('consistent-version', `${jobKey}: the manifest of v${v.seq} has prompt "${m.request.prompt}" ${String(m.request.parameters.style)}, but v${v.seq}'s files say "${v.prompt}" ${v.style}`);
    }
    return v;
  }

  private resultWritten(key: string, obj: StoredObject): void {
    const jobKey = key.replace(/\.result-\d+\.png$/, '');
    const tag = resultTagOf(pngTag(obj.bytes));
    const c = tag && this.byTask.get(tag.taskId);
    if (!tag || !c?.version) return;
    if (c.version.jobKey !== jobKey) this.report('own-task', `${key} got an image of task ${tag.taskId}, created for ${c.version.jobKey}`);
    const last = this.lastManifest.get(jobKey);
    if (last && last.seq > c.version.seq) this.report('newest-wins', `${key}: an image of v${c.version.seq} was written after v${last.seq}'s manifest`);
  }

  // ------------------------------------------------------------------ end of schedule

  final(rested: boolean, why: string): void {
    const { fake, bucket, table, versions } = this.ctx;
    this.payOnce();
    for (const jobKey of this.ctx.jobKeys) {
      const newest = versions.newest(jobKey);
      if (!newest) continue;
      const dropped = this.ctx.failureDestination.filter((e) => belongsToJob(e.key, jobKey));
      const note = dropped.length ? ` (${dropped.length} of its events went to the failure destination)` : '';
      const row = table.get<JobRecord>('job', jobIdOf(jobKey));
      const cur = row?.value.current;
      if (!cur) {
        this.report('nothing-lost', `${jobKey}: v${newest.seq} was never recorded${note}`);
        continue;
      }
      if (cur.sketch.etag !== newest.sketchEtag || cur.sidecar?.etag !== newest.sidecarEtag) {
        const held = versions.ofFiles(jobKey, cur.sketch.etag, cur.sidecar?.etag, secondsOf({ ...(cur.sketch.lastModified ? { lastModified: cur.sketch.lastModified } : {}), ...(cur.sidecar ? { sidecar: cur.sidecar } : {}) }));
        const message = `${jobKey}: its row holds v${held?.seq ?? '?'} (${cur.state}), not the newest upload v${newest.seq}${note}`;
        // An upload whose every delivery failed was dropped (issue 13 run 8), not outvoted.
        if (dropped.length) {
          this.report('nothing-lost', message);
          continue;
        }
        this.report('newest-wins', message);
      }
      if (!isTerminal(cur.state)) this.report('nothing-lost', `${jobKey}: left ${cur.state} (attempts ${cur.attempts}, task ${cur.taskId ?? '-'})`);
      const obj = bucket.objects.get(manifestKey(jobKey));
      if (!obj) {
        this.report('nothing-lost', `${jobKey}: no manifest (row ${cur.state})${note}`);
        continue;
      }
      this.finalManifest(jobKey, newest, JSON.parse(obj.bytes.toString('utf8')) as Manifest);
    }
    const live = fake.liveTasks();
    if (live.length > 0) this.report('nothing-lost', `${live.length} task(s) still live at DashScope at the end: ${live.map((t) => t.create.prompt).join(', ')}`);
    if (!rested) this.report('nothing-lost', `did not come to rest: ${why}`);
  }

  private finalManifest(jobKey: string, newest: WorldVersion, m: Manifest): void {
    const v = this.ctx.versions.ofFiles(jobKey, m.source.etag, m.source.sidecar?.etag, secondsOf(m.source));
    if (v !== newest) this.report('newest-wins', `${jobKey}: the final manifest is for v${v?.seq ?? '?'}, the newest upload is v${newest.seq}`);
    if (!v) return;
    // Each create is traced to the version the core's row held as it was sent (versionSent).
    const paidBy = (w: WorldVersion) => this.creates.filter((c) => c.version === w && c.record.taskId).length;
    const paid = paidBy(v);
    const attempts = m.task?.attempts ?? 0;
    if (attempts < paid) this.report('attempts-counted', `${jobKey}: v${v.seq} was paid ${paid} times, its manifest says task.attempts ${attempts}`);
    const keep = new Set<string>();
    for (const r of m.results) {
      if (!r.key) continue;
      keep.add(r.key);
      const tag = resultTagOf(pngTag(this.ctx.bucket.objects.get(r.key)?.bytes ?? Buffer.alloc(0)));
      if (!tag || tag.taskId !== m.task?.id) this.report('newest-wins', `${r.key}: holds ${tag ? `task ${tag.taskId}'s image` : 'no image'}, the manifest names task ${m.task?.id ?? '-'}`);
    }
    for (const key of this.ctx.bucket.keys()) {
      if (key.startsWith(`${jobKey}.result-`) && key.endsWith('.png') && !keep.has(key)) this.report('newest-wins', `${key}: left over from an older version (the manifest lists ${[...keep].join(', ') || 'no images'})`);
    }
    if (m.status === 'FAILED' && !LEGIT_FAILURES.has(m.error?.code ?? '')) {
      this.report('no-blame', `${jobKey}: FAILED with ${m.error?.code}: ${m.error?.message.slice(0, 140)}`);
    }
  }

  /** Every paid create of a version beyond its first is explained by an earlier one's crash or loss. */
  private payOnce(): void {
    // By run: the versions that send the very same request (Versions.runOf), each owed one create.
    const byVersion = new Map<WorldVersion, CreateMeta[]>();
    for (const c of this.creates) {
      if (!c.record.taskId || !c.version) continue;
      if (c.record.undelivered) c.explainedAt = Math.min(c.explainedAt, c.step);
      const head = this.ctx.versions.runOf(c.version)[0]!;
      const list = byVersion.get(head) ?? [];
      list.push(c);
      byVersion.set(head, list);
    }
    for (const [v, list] of byVersion) {
      let used = 0;
      for (let k = this.ctx.versions.runOf(v).length; k < list.length; k++) {
        const later = list[k]!;
        const available = list.slice(0, k).filter((c) => c.explainedAt < later.step).length;
        if (available > used) {
          used++;
          continue;
        }
        const why = list.slice(0, k).map((c) => `#${c.record.seq} ${c.record.actor} ${c.record.cls}${c.explainedAt === Infinity ? '' : ' (explained)'}`);
        this.report('pay-once', `${v.jobKey}: v${v.seq} ("${v.prompt}") paid again by create #${later.record.seq} (${later.record.actor}) with nothing to explain it; earlier: ${why.join(', ')}`);
        break;
      }
    }
  }
}
