/**
 * Typed access to the rows of records.ts over a RowStore. Every write that decides something is
 * conditional (absent / revision); these helpers keep the row shapes and ids in one place.
 */
import { ConditionFailedError } from '../errors.js';
import type { RowStore, StoredRow } from './ports.js';
import {
  FREE_SLOT,
  KIND,
  type ActiveRecord,
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
export const queueId = (queuedAt: number, jobId: string) => `${pad(queuedAt)}#${jobId}`;
export const slotId = (index: number) => String(index).padStart(2, '0');

/** The calendar day in Asia/Shanghai (UTC+8, no DST) for the daily image budget (SPEC §4.6). */
export function budgetDay(now: number): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10);
}

/** What `Jobs.modify` did: wrote the row, left it alone (change said no), or kept losing races. */
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
    known?: StoredRow<JobRecord>,
  ): Promise<{ job: JobRecord; rev: number } | undefined> {
    const result = await this.modify<JobRecord>(
      KIND.job,
      jobId,
      (row) => {
        if (!row || row.value.current.id !== versionId) return undefined;
        const next = change(row.value.current, row.value);
        return next && { ...row.value, current: next };
      },
      8,
      known,
    );
    if (result === 'contended') throw new ConditionFailedError(`job ${jobId}: too many concurrent updates`);
    return result === 'unchanged' ? undefined : { job: result.written, rev: result.rev };
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
    return this.rows.put(KIND.queue, queueId(queuedAt, record.jobId), record, 'any');
  }

  dequeue(id: string): Promise<void> {
    return this.rows.delete(KIND.queue, id);
  }

  async peekQueue(limit: number): Promise<Array<StoredRow<QueueRecord>>> {
    return (await this.rows.scan<QueueRecord>(KIND.queue, { limit })).rows;
  }

  async queueNotEmpty(): Promise<boolean> {
    return (await this.rows.scan<QueueRecord>(KIND.queue, { limit: 1 })).rows.length > 0;
  }

  // ------------------------------------------------------------ slots
  /** All MAX_IN_FLIGHT slots; a slot row that does not exist yet is free (rev 0 = absent). */
  async readSlots(count: number): Promise<SlotView[]> {
    const ids = Array.from({ length: count }, (_, i) => slotId(i));
    const found = await this.rows.getMany<SlotRecord>(KIND.slot, ids);
    return ids.map((id, index) => {
      const row = found.get(id);
      return { index, rev: row?.rev ?? 0, slot: row?.value ?? FREE_SLOT };
    });
  }

  /** Conditional on `rev` (0 = the row must not exist yet). Returns the new rev. */
  putSlot(index: number, rev: number, slot: SlotRecord): Promise<number> {
    return this.rows.put(KIND.slot, slotId(index), slot, rev === 0 ? { absent: true } : { rev });
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
  /** Reserves `n` images for `day` unless that passes `max` (0 = unlimited). */
  async reserveImages(day: string, n: number, max: number): Promise<boolean> {
    if (max === 0) return true;
    const result = await this.modify<BudgetRecord>(KIND.budget, day, (row) => {
      const used = row?.value.used ?? 0;
      return used + n > max ? undefined : { used: used + n };
    });
    if (result === 'contended') throw new ConditionFailedError(`budget ${day}: too many concurrent updates`);
    return result !== 'unchanged';
  }

  async refundImages(day: string, n: number, max: number): Promise<void> {
    if (max === 0 || n === 0) return;
    // Best effort: a refund that keeps losing races is dropped (the budget errs on the safe side).
    await this.modify<BudgetRecord>(KIND.budget, day, (row) => row && { used: Math.max(0, row.value.used - n) });
  }

  async imagesUsed(day: string): Promise<number> {
    return (await this.rows.get<BudgetRecord>(KIND.budget, day))?.value.used ?? 0;
  }

  // ------------------------------------------------------------ task index
  recordTask(taskId: string, record: TaskRecord): Promise<number> {
    return this.rows.put(KIND.task, taskId, record, 'any');
  }

  /** The task the `attempt`-th create call of a version got, once recorded. */
  recordAttempt(jobId: string, versionId: string, attempt: number, taskId: string, createdAt: number): Promise<number> {
    return this.rows.put(KIND.attempt, `${jobId}:${versionId}:${attempt}`, { taskId, createdAt }, 'any');
  }

  async attemptTask(jobId: string, versionId: string, attempt: number): Promise<{ taskId: string; createdAt: number } | undefined> {
    return (await this.rows.get<{ taskId: string; createdAt: number }>(KIND.attempt, `${jobId}:${versionId}:${attempt}`))?.value;
  }

  async knownTasks(taskIds: string[]): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    return new Set((await this.rows.getMany<TaskRecord>(KIND.task, taskIds)).keys());
  }

  // ------------------------------------------------------------ account pause
  async pause(): Promise<PauseRecord | undefined> {
    return (await this.rows.get<PauseRecord>(KIND.pause, 'account'))?.value;
  }

  setPause(pause: PauseRecord): Promise<number> {
    return this.rows.put(KIND.pause, 'account', pause, 'any');
  }

  clearPause(): Promise<void> {
    return this.rows.delete(KIND.pause, 'account');
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
