/**
 * Issue 8: a deliberately broken build must fail the soak, naming the invariant it broke.
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../soak/soak.js';

const CI = { seed: 7 };

describe('soak of a broken build', () => {
  // The outputs break fails on every result the pipeline writes, so it is found however busy the
  // machine is; the pay-once break's findings depend on when duplicates arrive (the explorer's
  // focused breaks are its deterministic proof).
  it('a broken build (--break outputs: results copied under a name the trigger does not know) fails and names the invariant', async () => {
    const r = await runSoak({ ...CI, sketches: 8, break: 'outputs' });
    expect(r.exitStatus).toBe(1);
    expect(r.summary.broken).toContain('outputs-no-work');
    expect(r.failure).toContain('SPEC §4.4 outputs never trigger work');
    expect(r.failure).toContain(`seed ${CI.seed}`);
  }, 120_000);
});
