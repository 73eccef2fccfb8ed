/**
 * Seeded randomness and stable hashes: jitter, fault choices and rendering must repeat exactly
 * for the same seed (soak runs are replayed by seed).
 */
import { createHash } from 'node:crypto';

/** mulberry32: tiny, fast, good enough for jitter. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit integer hash of any strings (sha256 prefix: stable across runs and platforms). */
export function hash32(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
