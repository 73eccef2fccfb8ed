/**
 * A short exploration (CI's): a few hundred seeded schedules of the real core over the explorer's
 * world must show no violation. `npm run explore -- --seeds 20000` is the long one.
 */
import { describe, expect, it } from 'vitest';
import { BREAKS } from './breaks.js';
import { runSchedule } from './explore.js';

const SEEDS = 300;

describe('explorer', () => {
  it(`${SEEDS} seeded schedules keep every invariant`, { timeout: 180_000 }, async () => {
    const found: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSchedule(seed);
      for (const v of r.violations) found.push(`seed ${seed} [${v.invariant}] ${v.message}`);
    }
    // Replay any of these with `npm run explore -- --seed S` for its trace.
    expect(found).toEqual([]);
  });

  // Each known bug, put back, is found within this many schedules (the explorer is not blind to it),
  // of plans narrowed to what the bug needs (breaks.ts `focus`; `--broad` for the general mix).
  it.each(BREAKS.map((b) => [b.name, b] as const))('finds the bug --break %s puts back', { timeout: 120_000 }, async (_name, brk) => {
    let foundAt: number | undefined;
    for (let seed = 1; seed <= 1500 && foundAt === undefined; seed++) {
      const r = await runSchedule(seed, { brk });
      if (r.violations.some((v) => brk.breaks.includes(v.invariant))) foundAt = seed;
    }
    expect(foundAt, `--break ${brk.name} not found in 1500 schedules`).toBeDefined();
  });

  it('replays a seed exactly', async () => {
    const a = await runSchedule(7, { trace: true });
    const b = await runSchedule(7, { trace: true });
    expect(b.steps).toBe(a.steps);
    expect(b.trace).toEqual(a.trace);
  });
});
