import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../lib/core/lifecycle/index.js';
import { pollBudgetMs, restFloorMs, restUntil } from '../../lib/core/poller.js';

describe('backoff after a refused create', () => {
  it('starts near one poller pass, doubles, and stays under a minute', () => {
    for (let i = 0; i < 20; i++) {
      expect(backoffMs(1, 2000)).toBeGreaterThanOrEqual(500);
      expect(backoffMs(1, 2000)).toBeLessThanOrEqual(1000);
      expect(backoffMs(3, 2000)).toBeGreaterThanOrEqual(2000);
      expect(backoffMs(30, 2000)).toBeLessThanOrEqual(60_000);
      expect(backoffMs(1, 50)).toBeLessThanOrEqual(50);
    }
  });
});

describe('the poller stops before the function timeout', () => {
  it('uses POLL_BUDGET_SECONDS unless that comes within 10 s of the timeout', () => {
    expect(pollBudgetMs(50_000, 60)).toBe(50_000);
    expect(pollBudgetMs(50_000, 55)).toBe(45_000);
    expect(pollBudgetMs(50_000, 5)).toBe(0);
    expect(pollBudgetMs(50_000, undefined)).toBe(50_000);
  });
});

describe("the poller's rest", () => {
  const config = { taskMinMs: 15_000, pollIntervalMs: 2000 };
  const slot = (state: 'free' | 'inflight' | 'submitting', runningSince?: number) => ({ model: 'wanx-sketch-to-image-lite', index: 0, rev: 1, slot: { state, ...(runningSince !== undefined ? { runningSince } : {}) } });

  it('trusts observed durations only after three, never beyond TASK_MIN_SECONDS', () => {
    expect(restFloorMs(config, [20_000, 22_000])).toBe(0);
    expect(restFloorMs(config, [20_000, 22_000, 24_000])).toBe(15_000);
    expect(restFloorMs(config, [5000, 22_000, 24_000])).toBe(3000);
    expect(restFloorMs(config, [2000, 2000, 2000])).toBe(0);
    expect(restFloorMs({ ...config, taskMinMs: 0 }, [20_000, 20_000, 20_000])).toBe(0);
  });

  it('rests until one poll interval before the running task could end', () => {
    expect(restUntil(15_000, 2000, [slot('inflight', 1000), slot('inflight')], 2000, { finishing: false, canSubmit: false })).toBe(14_000);
  });

  it('does not rest with something to do, a task only PENDING, a submission in doubt, or too little time', () => {
    const busy = [slot('inflight', 1000), slot('inflight')];
    expect(restUntil(15_000, 2000, busy, 2000, { finishing: true, canSubmit: false })).toBeUndefined();
    expect(restUntil(15_000, 2000, busy, 2000, { finishing: false, canSubmit: true })).toBeUndefined();
    expect(restUntil(15_000, 2000, [slot('inflight')], 2000, { finishing: false, canSubmit: false })).toBeUndefined();
    expect(restUntil(15_000, 2000, [slot('inflight', 1000), slot('submitting')], 2000, { finishing: false, canSubmit: false })).toBeUndefined();
    expect(restUntil(15_000, 2000, busy, 10_000, { finishing: false, canSubmit: false })).toBeUndefined();
    expect(restUntil(0, 2000, busy, 2000, { finishing: false, canSubmit: false })).toBeUndefined();
  });
});
