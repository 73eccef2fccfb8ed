/**
 * Simulated time: start + (real elapsed / timeScale) + manual advances.
 * Timers are kept in simulated time and driven by ONE real setTimeout, scaled; `advance()` fires
 * everything that became due synchronously, so a jump past a task's end completes it at once.
 */
import { performance } from 'node:perf_hooks';

export interface SimTimer {
  cancel(): void;
}

interface Entry {
  at: number;
  seq: number;
  fn: (at: number) => void;
  cancelled: boolean;
}

// setTimeout's ceiling; longer waits are re-armed when they fire.
const MAX_REAL_DELAY = 2_147_483_647;

export class SimClock {
  private readonly realStart = performance.now();
  private advanced = 0;
  private entries: Entry[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private firing = false;
  private closed = false;

  constructor(
    private readonly startTime: number,
    /** Real seconds per simulated second. */
    readonly timeScale: number,
  ) {
    if (!(timeScale > 0)) throw new Error(`timeScale must be > 0 (got ${timeScale})`);
  }

  /** Whole simulated milliseconds: records and comparisons stay exact. */
  now(): number {
    return Math.floor(this.startTime + (performance.now() - this.realStart) / this.timeScale + this.advanced);
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`advance(ms) needs ms >= 0 (got ${ms})`);
    this.advanced += ms;
    this.fireDue();
  }

  /** Runs `fn(at)` once simulated time reaches `at` (at once, synchronously, if already past). */
  schedule(at: number, fn: (at: number) => void): SimTimer {
    const entry: Entry = { at, seq: this.seq++, fn, cancelled: false };
    if (this.closed) return { cancel: () => undefined };
    this.entries.push(entry);
    if (at <= this.now() && !this.firing) this.fireDue();
    else this.arm();
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Real milliseconds until simulated time `at` (0 if past). */
  realDelayUntil(at: number): number {
    return Math.max(0, (at - this.now()) * this.timeScale);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries = [];
  }

  private fireDue(): void {
    if (this.firing || this.closed) return;
    this.firing = true;
    try {
      // Callbacks may schedule more work that is already due (a queue draining after a jump).
      for (;;) {
        this.entries = this.entries.filter((e) => !e.cancelled);
        const now = this.now();
        let next: Entry | undefined;
        for (const e of this.entries) {
          if (e.at <= now && (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq))) next = e;
        }
        if (!next) break;
        next.cancelled = true;
        next.fn(next.at);
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    let earliest = Infinity;
    for (const e of this.entries) if (!e.cancelled && e.at < earliest) earliest = e.at;
    if (earliest === Infinity) return;
    // +1 ms: a timer that fires a hair early would otherwise find nothing due and spin.
    const delay = Math.min(MAX_REAL_DELAY, Math.ceil(this.realDelayUntil(earliest)) + 1);
    this.timer = setTimeout(() => this.fireDue(), delay);
    this.timer.unref();
  }
}

const BEIJING_OFFSET_MS = 8 * 3600_000;

/** `2024-11-01 09:50:56.081` in Beijing time, as the task API prints times. */
export function formatBeijing(ms: number): string {
  return new Date(Math.floor(ms) + BEIJING_OFFSET_MS).toISOString().replace('T', ' ').slice(0, 23);
}

/** `YYYY-MM-DD` in Beijing time (upload directories carry the date). */
export function beijingDate(ms: number): string {
  return formatBeijing(ms).slice(0, 10);
}

/** Parses the list API's `YYYYMMDDhhmmss` (Beijing time) to epoch ms; undefined if malformed. */
export function parseCompactBeijing(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - BEIJING_OFFSET_MS;
  return Number.isNaN(ms) ? undefined : ms;
}
