/**
 * Typed access to the rows of records.ts over a RowStore. Every write that decides something is
 * conditional (absent / revision); these helpers keep the row shapes and ids in one place.
 */
import type { Config } from '../config.js';
import { ConditionFailedError } from '../errors.js';
import { inFlightLimit, modelSpec } from '../models/index.js';
import type { RowStore, StoredRow } from './ports.js';
import {
  FREE_SLOT,
  KIND,
  type ActiveRecord,
  type BudgetAmount,
  type BudgetRecord,
  type JobRecord,
  type LeaseRecord,
  type PauseRecord,
  type QueueRecord,
  type ScanRecord,
  type SlotRecord,
  type SlotView,
  type TaskRecord,
  type VersionRecord,
} from './records.js';

/** A pending wake this close after the one wanted serves it (kick delays are whole seconds). */
const WAKE_TOLERANCE_MS = 1000;

const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(15, '0');

export const activeId = (jobId: string, versionId: string) => `${jobId}:${versionId}`;
/** A model's FIFO: its rows sort together, oldest first (model names hold no `#`). */
export const queueId = (model: string, queuedAt: number, jobId: string) => `${model}#${pad(queuedAt)}#${jobId}`;
export const slotId = (model: string, index: number) => `${model}#${String(index).padStart(2, '0')}`;

/** `model#nn` → its parts; undefined for any other id (rows of older versions: `nn`). */
export function parseSlotId(id: string): { model: string; index: number } | undefined {
  const m = /^(.+)#(\d{2,})$/.exec(id);
  return m ? { model: m[1]!, index: Number(m[2]) } : undefined;
}

/** Each configured model and how many slots it has (SPEC §4 invariant 3; lib/models inFlightLimit). */
export type SlotLayout = ReadonlyArray<{ model: string; slots: number }>;

export function slotLayout(config: Pick<Config, 'models' | 'maxInFlight'>): SlotLayout {
  return config.models.map((model) => ({ model, slots: inFlightLimit(modelSpec(model), config.maxInFlight) }));
}

/** Where a slot row is: its model and its index among that model's slots. */
export type SlotAt = Pick<SlotView, 'model' | 'index'>;

/** Budget limits, 0 = none: images, and thousandths of a yuan. */
export interface BudgetLimits {
  images: number;
  milliCny: number;
}

export const budgetLimits = (config: Pick<Config, 'maxImagesPerDay' | 'maxMilliCnyPerDay'>): BudgetLimits => ({ images: config.maxImagesPerDay, milliCny: config.maxMilliCnyPerDay });

/** The calendar day in Asia/Shanghai (UTC+8, no DST) for the daily image budget (SPEC §4.6). */
export function budgetDay(now: number): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10);
}

/** What `Jobs.modify` did: wrote the row, left it alone (change said no), or kept losing races. */
/** Another writer's outputs lease: whose, and until when it runs. */
export interface OutputsHolder {
  busyUntil: number;
  versionId: string;
  owner: string;
}

export type Modified<T> = { written: T; rev: number } | 'unchanged' | 'contended';

export class Jobs {
  constructor(readonly rows: RowStore) {}

  /**
   * Read-modify-write of one row, retried when another writer got there first. `change` sees
   * the row (undefined if absent) and returns the new value, or undefined to leave it alone.
   * `known`: the row as the caller just read it, tried first instead of reading it again (its
   * revision guards the write like a fresh read's would).
   */
  async modify<T>(kind: string, id: string, change: (row: StoredRow<T> | undefined) => T | undefined, attempts = 8, known?: StoredRow<T>): Promise<Modified<T>> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const row = attempt === 0 && known ? known : await this.rows.get<T>(kind, id);
      const next = change(row);
      if (next === undefined) return 'unchanged';
      try {
        const rev = await this.rows.put<T>(kind, id, next, row ? { rev: row.rev } : { absent: true });
        return { written: next, rev };
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    return 'contended';
  }

  // ------------------------------------------------------------ job rows
  getJob(jobId: string): Promise<StoredRow<JobRecord> | undefined> {
    return this.rows.get<JobRecord>(KIND.job, jobId);
  }

  /** Writes the job if it is still at `rev` (or absent when `rev` is undefined). Returns the new rev. */
  putJob(jobId: string, job: JobRecord, rev: number | undefined): Promise<number> {
    return this.rows.put(KIND.job, jobId, job, rev === undefined ? { absent: true } : { rev });
  }

  /**
   * Read-modify-write of the current version, retried on lost races. `change` returns the new
   * version, or undefined to leave the row alone (e.g. the version is no longer current).
   */
  async updateVersion(
    jobId: string,
    versionId: string,
    change: (v: VersionRecord, job: JobRecord) => VersionRecord | undefined,
    options: {
      /** Job-level fields to set in the same write (the outputs lease), given the row as read. */
      jobFields?: (job: JobRecord) => Partial<JobRecord>;
      /** The row as just read by the caller: saves a read when it is still current. */
      known?: StoredRow<JobRecord>;
    } = {},
  ): Promise<{ job: JobRecord; rev: number } | undefined> {
    const { jobFields, known } = options;
    const result = await this.modify<JobRecord>(
      KIND.job,
      jobId,
      (row) => {
        if (!row || row.value.current.id !== versionId) return undefined;
        const next = change(row.value.current, row.value);
        return next && { ...row.value, ...jobFields?.(row.value), current: next };
      },
      8,
      known,
    );
    if (result === 'contended') throw new ConditionFailedError(`job ${jobId}: too many concurrent updates`);
    return result === 'unchanged' ? undefined : { job: result.written, rev: result.rev };
  }

  /**
   * Takes (or extends) the outputs lease for `versionId` in invocation `owner` until at least
   * `until`. `busyUntil`: another writer's lease runs until then; 'superseded': the version is
   * no longer current.
   */
  async holdOutputs(jobId: string, versionId: string, owner: string, until: number, now: number): Promise<'held' | 'superseded' | OutputsHolder> {
    let verdict: 'held' | 'superseded' | OutputsHolder = 'held';
    const result = await this.modify<JobRecord>(KIND.job, jobId, (row) => {
      if (!row || row.value.current.id !== versionId) return void (verdict = 'superseded');
      const held = row.value.outputs;
      const mine = held !== undefined && held.versionId === versionId && held.owner === owner;
      if (held && !mine && held.until > now) return void (verdict = { busyUntil: held.until, versionId: held.versionId, owner: held.owner ?? '(unknown)' });
      verdict = 'held';
      if (mine && held.until >= until) return undefined; // already ours, long enough
      return { ...row.value, outputs: { versionId, owner, until: Math.max(until, mine ? held.until : 0) } };
    });
    if (result === 'contended') throw new ConditionFailedError(`job ${jobId}: too many concurrent updates`);
    return verdict;
  }

  /** Gives back this owner's outputs lease on `versionId`, if it still holds it (best effort: it ends anyway). */
  async releaseOutputs(jobId: string, versionId: string, owner: string, known?: StoredRow<JobRecord>): Promise<void> {
    await this.modify<JobRecord>(
      KIND.job,
      jobId,
      (row) => {
        const held = row?.value.outputs;
        if (!row || !held || held.versionId !== versionId || held.owner !== owner) return undefined;
        const { outputs: _released, ...rest } = row.value;
        return rest;
      },
      8,
      known,
    );
  }

  // ------------------------------------------------------------ active index
  markActive(record: ActiveRecord): Promise<number> {
    return this.rows.put(KIND.active, activeId(record.jobId, record.versionId), record, 'any');
  }

  clearActive(jobId: string, versionId: string): Promise<void> {
    return this.rows.delete(KIND.active, activeId(jobId, versionId));
  }

  async listActive(): Promise<Array<StoredRow<ActiveRecord>>> {
    return this.scanAll<ActiveRecord>(KIND.active);
  }

  // ------------------------------------------------------------ queue
  enqueue(queuedAt: number, record: QueueRecord): Promise<number> {
    return this.rows.put(KIND.queue, queueId(record.model, queuedAt, record.jobId), record, 'any');
  }

  dequeue(id: string): Promise<void> {
    return this.rows.delete(KIND.queue, id);
  }

  /** The oldest `limit` entries of one model's FIFO. */
  async peekQueue(model: string, limit: number): Promise<Array<StoredRow<QueueRecord>>> {
    const prefix = `${model}#`;
    return (await this.rows.scan<QueueRecord>(KIND.queue, { from: prefix, limit })).rows.filter((r) => r.id.startsWith(prefix));
  }

  async queueNotEmpty(models: readonly string[]): Promise<boolean> {
    for (const model of models) if ((await this.peekQueue(model, 1)).length > 0) return true;
    return false;
  }

  // ------------------------------------------------------------ slots
  /**
   * Every slot of `layout`, model by model; a slot row that does not exist yet is free (rev 0 =
   * absent). One range read of the slot rows: only rows that exist cost anything to read.
   */
  async readSlots(layout: SlotLayout): Promise<SlotView[]> {
    const found = new Map((await this.scanAll<SlotRecord>(KIND.slot)).map((r) => [r.id, r]));
    return layout.flatMap(({ model, slots }) =>
      Array.from({ length: slots }, (_, index) => {
        const row = found.get(slotId(model, index));
        return { model, index, rev: row?.rev ?? 0, slot: row?.value ?? FREE_SLOT };
      }),
    );
  }

  /** Conditional on `rev` (0 = the row must not exist yet). Returns the new rev. */
  putSlot(at: SlotAt, rev: number, slot: SlotRecord): Promise<number> {
    return this.rows.put(KIND.slot, slotId(at.model, at.index), slot, rev === 0 ? { absent: true } : { rev });
  }

  // ------------------------------------------------------------ poller lease
  /** Takes the scheduler lease if it is free, expired, or already ours. A wake that is due is ours to serve. */
  async acquireLease(owner: string, now: number, until: number): Promise<boolean> {
    const row = await this.rows.get<LeaseRecord>(KIND.lease, 'poller');
    if (row && row.value.owner !== owner && row.value.until > now) return false;
    const pendingWake = row?.value.wakeAt !== undefined && row.value.wakeAt > now ? row.value.wakeAt : undefined;
    try {
      await this.rows.put<LeaseRecord>(KIND.lease, 'poller', { owner, until, ...(pendingWake ? { wakeAt: pendingWake } : {}) }, row ? { rev: row.rev } : { absent: true });
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  /**
   * Releases the lease. With `wakeAt`, a poller must run then: returns true when the caller has to
   * send that kick, false when a kick for that time or earlier is already on its way. Recording the
   * wake here, under the lease, keeps kicks from multiplying into parallel chains.
   */
  async releaseLease(owner: string, now: number, wakeAt?: number): Promise<boolean> {
    const row = await this.rows.get<LeaseRecord>(KIND.lease, 'poller');
    if (!row || row.value.owner !== owner) return false; // our lease ran out: its new holder decides
    const pending = row.value.wakeAt !== undefined && row.value.wakeAt > now ? row.value.wakeAt : undefined;
    const kick = wakeAt !== undefined && !(pending !== undefined && pending <= wakeAt + WAKE_TOLERANCE_MS);
    const next = kick ? wakeAt : pending;
    try {
      await this.rows.put<LeaseRecord>(KIND.lease, 'poller', { owner: '', until: 0, ...(next !== undefined ? { wakeAt: next } : {}) }, { rev: row.rev });
      return kick;
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
      return false;
    }
  }

  async leaseHolder(now: number): Promise<LeaseRecord | undefined> {
    const row = await this.rows.get<LeaseRecord>(KIND.lease, 'poller');
    return row && row.value.until > now && row.value.owner ? row.value : undefined;
  }

  /** Is a poller running, or asked to run later? (Then a submit need not kick one.) */
  async pollerScheduled(now: number): Promise<boolean> {
    const row = await this.rows.get<LeaseRecord>(KIND.lease, 'poller');
    if (!row) return false;
    return (row.value.until > now && Boolean(row.value.owner)) || (row.value.wakeAt !== undefined && row.value.wakeAt > now);
  }

  // ------------------------------------------------------------ daily budget
  /**
   * Reserves `amount` for `day` in one conditional write, unless that passes a limit (0 =
   * none): 'ok', or the limit it would pass.
   */
  async reserveBudget(day: string, amount: BudgetAmount, limits: BudgetLimits): Promise<'ok' | 'images' | 'cny'> {
    if (limits.images === 0 && limits.milliCny === 0) return 'ok';
    let over: 'images' | 'cny' = 'images';
    const result = await this.modify<BudgetRecord>(KIND.budget, day, (row) => {
      const used = row?.value.used ?? 0;
      const milli = row?.value.usedMilliCny ?? 0;
      if (limits.images > 0 && used + amount.images > limits.images) {
        over = 'images';
        return undefined;
      }
      if (limits.milliCny > 0 && milli + amount.milliCny > limits.milliCny) {
        over = 'cny';
        return undefined;
      }
      return { used: used + amount.images, usedMilliCny: milli + amount.milliCny };
    });
    if (result === 'contended') throw new ConditionFailedError(`budget ${day}: too many concurrent updates`);
    return result === 'unchanged' ? over : 'ok';
  }

  async refundBudget(day: string, amount: BudgetAmount, limits: BudgetLimits): Promise<void> {
    if ((limits.images === 0 && limits.milliCny === 0) || (amount.images === 0 && amount.milliCny === 0)) return;
    // Best effort: a refund that keeps losing races is dropped (the budget errs on the safe side).
    await this.modify<BudgetRecord>(KIND.budget, day, (row) => row && { used: Math.max(0, row.value.used - amount.images), usedMilliCny: Math.max(0, (row.value.usedMilliCny ?? 0) - amount.milliCny) });
  }

  async budgetUsed(day: string): Promise<BudgetAmount> {
    const row = (await this.rows.get<BudgetRecord>(KIND.budget, day))?.value;
    return { images: row?.used ?? 0, milliCny: row?.usedMilliCny ?? 0 };
  }

  // ------------------------------------------------------------ task index
  recordTask(taskId: string, record: TaskRecord): Promise<number> {
    return this.rows.put(KIND.task, taskId, record, 'any');
  }

  /** The task a claim's create call got, once recorded. */
  recordAttempt(jobId: string, versionId: string, claim: string, taskId: string, createdAt: number): Promise<number> {
    return this.rows.put(KIND.attempt, `${jobId}:${versionId}:${claim}`, { taskId, createdAt }, 'any');
  }

  async attemptTask(jobId: string, versionId: string, claim: string): Promise<{ taskId: string; createdAt: number } | undefined> {
    return (await this.rows.get<{ taskId: string; createdAt: number }>(KIND.attempt, `${jobId}:${versionId}:${claim}`))?.value;
  }

  async knownTasks(taskIds: string[]): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    return new Set((await this.rows.getMany<TaskRecord>(KIND.task, taskIds)).keys());
  }

  // ------------------------------------------------------------ account pause, per model
  async pause(model: string): Promise<PauseRecord | undefined> {
    return (await this.rows.get<PauseRecord>(KIND.pause, model))?.value;
  }

  setPause(model: string, pause: PauseRecord): Promise<number> {
    return this.rows.put(KIND.pause, model, { ...pause, model }, 'any');
  }

  clearPause(model: string): Promise<void> {
    return this.rows.delete(KIND.pause, model);
  }

  // ------------------------------------------------------------ catch-up listing
  async scanCursor(): Promise<ScanRecord> {
    return (await this.rows.get<ScanRecord>(KIND.scan, 'uploads'))?.value ?? {};
  }

  setScanCursor(cursor: ScanRecord): Promise<number> {
    return this.rows.put(KIND.scan, 'uploads', cursor, 'any');
  }

  // ------------------------------------------------------------ helpers
  async scanAll<T>(kind: string, pageSize = 500): Promise<Array<StoredRow<T>>> {
    const all: Array<StoredRow<T>> = [];
    let from: string | undefined;
    do {
      const page = await this.rows.scan<T>(kind, { from, limit: pageSize });
      all.push(...page.rows);
      from = page.next;
    } while (from !== undefined);
    return all;
  }
}
