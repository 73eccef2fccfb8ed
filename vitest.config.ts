import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start loopback servers in-process; forks keep their ports and timers apart.
    pool: 'forks',
    // Vitest defaults to CPUs − 1 workers: one on CI's 2 cores. Most files wait on loopback I/O and
    // compressed timers rather than compute, so three overlap well there.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
