/**
 * Issue 8: a short seeded soak in CI. The real handlers under the local pipeline, a seeded mix of
 * valid, invalid and hostile inputs, duplicate and stale events, DashScope, Tablestore and OSS
 * faults, crashes between steps, overlapping pollers and a clock jump — then every SPEC §4
 * invariant checked against the emulators' records. (The broken build: soak-broken.test.ts, a
 * file of its own so that it runs beside this one.)
 */
import { describe, expect, it } from 'vitest';
import { makePlan } from '../../soak/plan.js';
import { runSoak } from '../../soak/soak.js';

// 30 sketches still draw 25+ fault kinds, duplicates, valid and invalid inputs (asserted below).
const CI = { seed: 7, sketches: 30 };

describe('soak', () => {
  it('the same seed makes the same plan: inputs, expectations and fault schedule', async () => {
    const a = await makePlan({ seed: 42, sketches: 30, mixMs: 6000 });
    const b = await makePlan({ seed: 42, sketches: 30, mixMs: 6000 });
    const c = await makePlan({ seed: 43, sketches: 30, mixMs: 6000 });
    expect(b).toEqual(a);
    expect(c.actions).not.toEqual(a.actions);
    expect(a.jobs.filter((j) => j.hostile).length).toBeGreaterThan(0);
    expect(a.actions.some((x) => x.type === 'clock-jump')).toBe(true);
  });

  it('a short seeded soak holds every invariant', async () => {
    const r = await runSoak(CI);
    expect(r.summary.lost, r.failure).toBe(0);
    expect(r.summary.stuck, r.failure).toBe(0);
    expect(r.summary.overwritten, r.failure).toBe(0);
    expect(r.summary.secretsFound, r.failure).toBe(0);
    expect(r.summary.dashscope.maxInFlight).toBeLessThanOrEqual(r.summary.dashscope.maxInFlightLimit);
    expect(r.summary.dashscope.extra.unexplained, r.failure).toBe(0);
    expect(r.exitStatus, `${r.table}\n${r.failure}`).toBe(0);
    // It really was a mix: faults of many kinds, crashes, duplicates, valid and invalid inputs.
    expect(Object.keys(r.summary.faults).length).toBeGreaterThanOrEqual(10);
    expect(r.summary.events.duplicates).toBeGreaterThan(0);
    expect(r.summary.inputs.valid).toBeGreaterThan(0);
    expect(r.summary.inputs.invalid).toBeGreaterThan(0);
  }, 120_000);
});
