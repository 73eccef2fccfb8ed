/**
 * Issue 8: a short seeded soak in CI. The real handlers under the local pipeline, a seeded mix of
 * valid, invalid and hostile inputs, duplicate and stale events, DashScope, Tablestore and OSS
 * faults, crashes between steps, overlapping pollers and a clock jump — then every SPEC §4
 * invariant checked against the emulators' records. And a deliberately broken build must fail,
 * naming the invariant it broke.
 */
import { describe, expect, it } from 'vitest';
import { makePlan } from '../../soak/plan.js';
import { runSoak } from '../../soak/soak.js';

const CI = { seed: 7, sketches: 40 };

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

  // The outputs break fails on every result the pipeline writes, so it is found however busy the
  // machine is; the pay-once break's findings depend on when duplicates arrive (the explorer's
  // focused breaks are its deterministic proof).
  it('a broken build (--break outputs: results copied under a name the trigger does not know) fails and names the invariant', async () => {
    const r = await runSoak({ ...CI, sketches: 20, break: 'outputs' });
    expect(r.exitStatus).toBe(1);
    expect(r.summary.broken).toContain('outputs-no-work');
    expect(r.failure).toContain('SPEC §4.4 outputs never trigger work');
    expect(r.failure).toContain(`seed ${CI.seed}`);
  }, 120_000);
});
