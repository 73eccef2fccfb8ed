/**
 * Sliding-window request limits per key and kind. Windows are in REAL time (default 1000 ms):
 * measured in simulated seconds, a compressed clock (timeScale 0.005) would make 2 submits per
 * simulated second mean 2 per 5 real ms, and no test could stay under it. Pipeline tests that
 * compress time raise the limits instead; `rateWindowMs` changes the window.
 */
import { performance } from 'node:perf_hooks';

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly windowMs: number) {}

  /** True (and counted) if one more request fits under `limit` in the current window. */
  tryTake(key: string, kind: string, limit: number): boolean {
    if (!Number.isFinite(limit)) return true;
    const id = `${kind}\u0000${key}`;
    const now = performance.now();
    const recent = (this.hits.get(id) ?? []).filter((t) => now - t < this.windowMs);
    // Rejected requests are not counted: a client that backs off gets through next window.
    if (recent.length >= limit) {
      this.hits.set(id, recent);
      return false;
    }
    recent.push(now);
    this.hits.set(id, recent);
    return true;
  }
}
