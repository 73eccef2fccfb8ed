/**
 * Issue 9: `npm run bench` must not rot. Its main function runs here on tiny inputs (seconds): all
 * seven figures are computed the same way as in the full run and must come out as numbers. Their
 * targets are the bench's business, not this test's (tiny runs are not figures).
 */
import { describe, expect, it } from 'vitest';
import { runBench, SMOKE, type BenchResults } from '../../bench/bench.js';

const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

describe('bench smoke run', () => {
  it('computes all eight figures on tiny inputs', async () => {
    const r: BenchResults = await runBench(SMOKE);
    const f = r.figures;
    const figures: Record<string, unknown[]> = {
      '1 utilization': [f.utilization.ours, f.utilization.lostEvents, f.utilization.naive],
      '2 result latency': [f.resultLatency.p50S, f.resultLatency.p95S, f.resultLatency.polled.p50S, f.resultLatency.polled.p95S],
      '3 submit latency': [f.submitLatency.toTaskCreatedMs.p50, f.submitLatency.toTaskCreatedMs.p95, f.submitLatency.handlerMs.p50, f.submitLatency.handlerMs.p95],
      '4 poller reads': f.pollerReads.points.flatMap((p) => [p.waitingPassRows, p.finishingPassRows, p.sweepRows]),
      '5 memory': [f.memory.submit.peakMiB, f.memory.finalize.peakMiB],
      '6 bundles': f.bundles.bundles.flatMap((b) => [b.bytes, b.requireMs, b.requireCpuMs]),
      '7 cost': [f.cost.totalCnyPerImage, f.cost.percentOfModel, ...f.cost.lines.map((l) => l.cnyPerImage)],
      '8 throughput': f.throughput.runs.flatMap((r) => r.models.flatMap((m) => [m.imagesPerHour, m.limitPerHour, m.efficiency, m.utilization])),
    };
    for (const [name, values] of Object.entries(figures)) {
      expect(values.length, name).toBeGreaterThan(0);
      expect(values.filter((v) => !isNumber(v)), name).toEqual([]);
    }
    expect(f.pollerReads.points.map((p) => p.finished)).toEqual(SMOKE.reads.finished);
    expect(f.bundles.bundles.map((b) => b.name).sort()).toEqual(['poller', 'submit']);
    expect(f.cost.images).toBe(SMOKE.backlogJobs);
    // Figure 8: each model alone, then the mix; each model within its own in-flight bound and create rate.
    expect(f.throughput.runs.map((r) => r.name)).toEqual(['wanx-sketch-to-image-lite', 'wanx2.1-imageedit', 'wan2.5-i2i-preview', 'mix']);
    expect(f.throughput.runs.at(-1)!.models.map((m) => m.jobs)).toEqual([1, 1, 1]);
    for (const m of f.throughput.runs.flatMap((r) => r.models)) {
      expect(m.maxInFlight, m.model).toBeLessThanOrEqual(m.inFlightBound);
      expect(m.maxCreatesPerSimSecond, m.model).toBeLessThanOrEqual(m.createsPerSecondLimit);
    }
    // The printed table: a header, a separator and one row per figure, each with a target column.
    const rows = r.table.split('\n');
    expect(rows).toHaveLength(2 + 8);
    expect(rows.slice(2).map((row) => row.split('|')[1]!.trim())).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
  }, 300_000);
});
