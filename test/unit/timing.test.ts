import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../lib/core/lifecycle/index.js';
import { pollBudgetMs } from '../../lib/core/poller.js';
import { restPlan, restWakeAt, slotTaskKey } from '../../lib/core/rest.js';
import type { SlotView } from '../../lib/core/records.js';

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

describe("the poller's rest on completion events", () => {
  const slot = (index: number, state: 'free' | 'inflight' | 'submitting', taskId?: string): SlotView => ({ model: 'wanx-sketch-to-image-lite', index, rev: 1, slot: { state, ...(taskId ? { taskId } : {}) } });
  const on = { taskEvents: true };
  const pass = (tracked: SlotView[], extra: Partial<{ finishing: boolean; canSubmit: boolean }> = {}) => ({ tracked: new Set(tracked.map(slotTaskKey)), finishing: false, canSubmit: false, ...extra });

  it('rests once every busy slot holds a task this pass queried, whether PENDING or RUNNING', () => {
    const slots = [slot(0, 'inflight', 'A'), slot(1, 'inflight', 'B')];
    expect(restPlan(on, slots, pass(slots))).toEqual({ step: 'rest', unqueried: [] });
    expect(restPlan(on, [slot(0, 'inflight', 'A'), slot(1, 'free')], pass([slot(0, 'inflight', 'A')]))).toEqual({ step: 'rest', unqueried: [] });
  });

  it('a task recorded after the pass queried the slots is queried before resting (an early event found no slot)', () => {
    const before = [slot(0, 'inflight', 'A'), slot(1, 'free')];
    const now = [slot(0, 'inflight', 'A'), slot(1, 'inflight', 'C')];
    expect(restPlan(on, now, pass(before))).toEqual({ step: 'rest', unqueried: [now[1]] });
    // The same slot holding another task is another task.
    expect(restPlan(on, [slot(0, 'inflight', 'D')], pass(before))).toEqual({ step: 'rest', unqueried: [slot(0, 'inflight', 'D')] });
    // Slot 0 of another model is another slot.
    const other = { ...slot(0, 'inflight', 'A'), model: 'wanx2.1-imageedit' };
    expect(restPlan(on, [other], pass(before))).toEqual({ step: 'rest', unqueried: [other] });
  });

  it('polls without events, with results to copy, a queued job that could go, or a create in doubt', () => {
    const slots = [slot(0, 'inflight', 'A'), slot(1, 'inflight', 'B')];
    expect(restPlan({ taskEvents: false }, slots, pass(slots)).step).toBe('poll');
    expect(restPlan(on, slots, pass(slots, { finishing: true })).step).toBe('poll');
    expect(restPlan(on, slots, pass(slots, { canSubmit: true })).step).toBe('poll');
    expect(restPlan(on, [slot(0, 'inflight', 'A'), slot(1, 'submitting')], pass(slots)).step).toBe('poll');
  });

  it('its safety kick comes EVENT_SAFETY_SECONDS later, never under a second (kick delays are whole seconds)', () => {
    expect(restWakeAt(10_000, { eventSafetyMs: 30_000 })).toBe(40_000);
    expect(restWakeAt(10_000, { eventSafetyMs: 200 })).toBe(11_000);
  });
});
