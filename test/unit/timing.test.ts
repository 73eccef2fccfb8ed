import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../lib/core/dispatch.js';
import { pollBudgetMs } from '../../lib/core/poller.js';

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
