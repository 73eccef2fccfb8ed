/**
 * The simulator's clock and request parsing, without a server: scaled time, timers that fire on
 * advance() in time order, the service's time formats, and create-body defaults.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatBeijing, parseCompactBeijing, SimClock } from '../../lib/local/dashscope/clock.js';
import { ApiError } from '../../lib/local/dashscope/errors.js';
import { parseCreateBody } from '../../lib/local/dashscope/models/sketch-lite.js';

describe('SimClock', () => {
  const clocks: SimClock[] = [];
  const make = (start: number, scale: number) => {
    const c = new SimClock(start, scale);
    clocks.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of clocks.splice(0)) c.close();
  });

  it('runs faster than real time by 1/timeScale and jumps with advance()', async () => {
    const c = make(1_000_000, 0.01);
    const t0 = c.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(c.now() - t0).toBeGreaterThanOrEqual(4_000); // ≥ 40 ms real × 100
    const t1 = c.now();
    c.advance(3_600_000);
    expect(c.now() - t1).toBeGreaterThanOrEqual(3_600_000);
    expect(() => c.advance(-1)).toThrow();
  });

  it('fires due timers synchronously on advance(), in time order, with their scheduled time', () => {
    const c = make(0, 1e6); // frozen
    const fired: Array<[string, number]> = [];
    c.schedule(c.now() + 2000, (at) => fired.push(['b', at]));
    c.schedule(c.now() + 1000, (at) => {
      fired.push(['a', at]);
      // Work scheduled by a timer that is already due runs in the same advance().
      c.schedule(at + 500, (at2) => fired.push(['a+', at2]));
    });
    const cancelled = c.schedule(c.now() + 1500, () => fired.push(['x', 0]));
    cancelled.cancel();
    c.advance(1_999);
    expect(fired.map((f) => f[0])).toEqual(['a', 'a+']);
    c.advance(1);
    expect(fired.map((f) => f[0])).toEqual(['a', 'a+', 'b']);
    expect(fired[1]![1] - fired[0]![1]).toBe(500);
  });

  it('fires on its own with real timers, scaled', async () => {
    const c = make(0, 0.001);
    const at = await new Promise<number>((resolve) => c.schedule(c.now() + 20_000, resolve)); // 20 ms real
    expect(c.now()).toBeGreaterThanOrEqual(at);
  });

  it('schedules nothing after close()', () => {
    const c = make(0, 1e6);
    c.close();
    let ran = false;
    c.schedule(0, () => (ran = true));
    expect(ran).toBe(false);
  });
});

describe('time formats', () => {
  it('prints Beijing time like the task API', () => {
    expect(formatBeijing(Date.UTC(2024, 10, 1, 1, 50, 56, 81))).toBe('2024-11-01 09:50:56.081');
  });

  it('parses the list API YYYYMMDDhhmmss as Beijing time', () => {
    expect(parseCompactBeijing('20241101095056')).toBe(Date.UTC(2024, 10, 1, 1, 50, 56));
    expect(parseCompactBeijing('2024-11-01')).toBeUndefined();
  });
});

describe('create body', () => {
  const base = { model: 'wanx-sketch-to-image-lite', input: { prompt: 'a cat', sketch_image_url: 'https://x/s.png' } };

  it('applies the service defaults: n 4, <auto>, weight 10', () => {
    const r = parseCreateBody(base);
    expect(r).toMatchObject({ n: 4, style: '<auto>', size: { width: 768, height: 768 }, sketchWeight: 10, sketchExtraction: false, sketchColor: [], promptTruncated: false });
    expect(r.defaulted).toContain('n');
  });

  it('names every bad field in one InvalidParameter', () => {
    try {
      parseCreateBody({ ...base, parameters: { n: 9, style: 'oil' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).message).toMatch(/parameters\.style.*parameters\.n|parameters\.n.*parameters\.style/);
    }
  });
});
