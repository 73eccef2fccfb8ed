/**
 * The explorer's one source of chance: a seeded mulberry32 stream. Every choice of a schedule
 * (plan, interleaving, faults, clock steps) is drawn from it, so a seed replays exactly.
 */
import { seededRandom } from '../../lib/local/dashscope/random.js';

export class Rng {
  readonly float: () => number;

  constructor(readonly seed: number) {
    // Spread neighbouring seeds apart: mulberry32's first outputs for seeds 1, 2, 3 are related.
    this.float = seededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0);
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Picks by weight from `[[value, weight], …]`. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.float() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![0];
  }
}
