/**
 * The one seeded PRNG of a soak run. Every choice (inputs, timing, faults) is drawn from it while
 * the plan is made, before anything runs, so the plan depends on the seed alone and never on how
 * fast the machine is.
 */
import { seededRandom } from '../lib/local/dashscope/random.js';

export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  /** [0, 1) */
  float(): number {
    return this.next();
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[[value, weight], …]`. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![0];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A short lowercase word, for names and prompts. */
  word(): string {
    return this.pick(WORDS);
  }
}

const WORDS = [
  'house', 'tree', 'cat', 'boat', 'castle', 'lighthouse', 'mill', 'bridge', 'owl', 'fox', 'river', 'mountain', 'garden',
  'tower', 'robot', 'dragon', 'teapot', 'bicycle', 'kite', 'barn', 'whale', 'cloud', 'forest', 'village', 'market',
] as const;
