/**
 * Figure 4: Tablestore rows read per poller pass (polled: TASK_EVENTS=off) with 20 active jobs (2 in DashScope's slots,
 * 18 queued) and 0, 1,000 and 10,000 finished jobs stored. SPEC §4: "Each tick reads Tablestore
 * in proportion to the active jobs, not to all jobs ever stored."
 *
 * Finished jobs are seeded shaped like real ones: a `job/<id>` row in a terminal state with its
 * outcome and a `task/<taskId>` row, and no active/queue/slot rows (what completeVersion leaves
 * behind). They are written 200 rows per BatchWriteRow in the RowStore adapter's encoding (`body`
 * JSON, `rev` integer) — 20,000 single puts would take the emulator ~20 s — and read back through
 * the Jobs helpers to check they decode as the pipeline's own rows. One poller invocation is then run in virtual time with DashScope
 * frozen; its rows read (the emulator's `rowsRead`: rows scanned, filtered ones included) are split
 * at the checkpoint after the sweep and at each sleep (one pass of the loop each). In the third
 * pass the running task has just ended, so that pass also frees the slot, submits the next queued
 * job and finalizes the finished one; a new upload afterwards brings the active count back to 20.
 */
import TableStore from 'tablestore';
import { jobIdOf, versionIdOf } from '../lib/contract/keys.js';
import { createRowStore, createTablestoreClient } from '../lib/adapters/tablestore.js';
import { Jobs } from '../lib/core/jobs.js';
import { KIND, type JobRecord, type TaskRecord, type VersionRecord } from '../lib/core/records.js';
import { timerEvent } from '../lib/local/fc.js';
import { POLLER_FUNCTION } from '../lib/local/pipeline.js';
import { lineSketch, median, startBenchPipeline } from './harness.js';
import { quiescent, VirtualClock } from './virtual-time.js';

export interface ReadPoint {
  finished: number;
  active: number;
  /** Lease and sweep of the `active` and `queue` rows: once per invocation. */
  sweepRows: number;
  /** A pass while both tasks run and 18 wait (median of the waiting passes). */
  waitingPassRows: number;
  /** The pass that sees a task end: frees the slot, submits the next job, finalizes. */
  finishingPassRows: number;
  passRows: number[];
  requests: number;
}

export interface PollerReads {
  points: ReadPoint[];
  seedSeconds: number;
}

function finishedJob(i: number, at: number): { jobId: string; job: JobRecord; taskId: string } {
  const jobKey = `sketches/archive/${String(Math.floor(i / 100)).padStart(3, '0')}/drawing-${i}`;
  const etag = (n: number) => (n * 2654435761).toString(16).toUpperCase().padStart(32, '0').slice(-32);
  const taskId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const iso = (ms: number) => new Date(ms).toISOString();
  const sketch = { key: `${jobKey}.png`, etag: etag(i + 1), size: 48_213 };
  const sidecar = { key: `${jobKey}.json`, etag: etag(i + 7) };
  const version: VersionRecord = {
    id: versionIdOf({ sketchKey: sketch.key, sketchEtag: sketch.etag, sidecarKey: sidecar.key, sidecarEtag: sidecar.etag }),
    sketch,
    sidecar,
    state: 'SUCCEEDED',
    createdAt: at,
    updatedAt: at + 26_000,
    request: { prompt: `an archived drawing, number ${i}, in watercolor`, parameters: { style: '<watercolor>', size: '768*768', n: 1 }, normalized: false },
    warnings: [],
    queuedAt: at,
    attempts: 1,
    taskId,
    slot: i % 2,
    submittedAt: iso(at + 900),
    startedAt: iso(at + 1_000),
    endedAt: iso(at + 24_000),
    outcome: { status: 'SUCCEEDED', results: [{ index: 1, key: `${jobKey}.result-1.png`, bytes: 412_345 }], imageCount: 1 },
  };
  return { jobId: jobIdOf(jobKey), job: { jobKey, current: version, previous: [] }, taskId };
}

/** Rows as createRowStore().put writes them: (kind, id) → body (JSON), rev (integer). */
async function seedRows(client: TableStore.Client, tableName: string, rows: Array<{ kind: string; id: string; value: unknown }>): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const result = await client.batchWriteRow({
      tables: [
        {
          tableName,
          rows: rows.slice(i, i + 200).map((r) => ({
            type: 'PUT' as const,
            condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
            primaryKey: [{ kind: r.kind }, { id: r.id }] as TableStore.PrimaryKeyInput,
            attributeColumns: [{ body: JSON.stringify(r.value) }, { rev: TableStore.Long.fromNumber(1) }],
          })),
        },
      ],
    });
    const failed = result.tables.find((row) => !row.isOk);
    if (failed) throw new Error(`seeding finished jobs: ${failed.errorCode} ${failed.errorMessage}`);
  }
}

export async function measurePollerReads(o: { active: number; finishedCounts: number[] }): Promise<PollerReads> {
  const v0 = Math.floor(Date.now() / 1000) * 1000;
  const clock = new VirtualClock(v0);
  const marks: Array<{ label: string; at: number }> = [];
  const p = await startBenchPipeline({
    clock,
    kick: false, // the measured invocation is the only poller
    timeScale: 1e6,
    taskSeconds: 20,
    dashscope: { seed: 17, startTime: v0, rateWindowMs: 1 },
    oss: { triggerDelayMs: 1 },
    // Passes at 0, 2, 4, 6 and 8 s; at 8 s less than one interval of budget is left: it stops.
    // Polled (no completion events): the loop's passes are what is measured; with events the
    // poller rests instead, and the timer's pass is the sweep plus one such pass.
    events: false,
    env: { LOG_LEVEL: 'info', POLL_INTERVAL_SECONDS: '2', POLL_BUDGET_SECONDS: '9', TASK_EVENTS: 'off' },
    checkpoint: (name) => {
      if (name === 'poller:swept') marks.push({ label: 'swept', at: p.stack.tablestore.records.length });
    },
  });
  const sim = p.stack.dashscope;
  const world = { clock, fc: p.fc, oss: p.stack.oss, sim };
  const realDeadline = Date.now() + 170_000;
  let uploaded = 0;
  const addJob = async () => {
    const n = `sketches/reads/r${uploaded}`;
    await p.put(`${n}.json`, JSON.stringify({ prompt: `active job ${uploaded}` }));
    await quiescent(world, realDeadline);
    await p.put(`${n}.png`, await lineSketch(512, uploaded));
    await quiescent(world, realDeadline);
    uploaded++;
  };
  try {
    const key = p.stack.describe().tablestore;
    const creds = { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret };
    const jobs = new Jobs(createRowStore(p.config.tablestore, creds));
    const client = createTablestoreClient(p.config.tablestore, creds);
    for (let i = 0; i < o.active; i++) await addJob();

    // One poller invocation in virtual time; `finish`: DashScope's running task ends before pass 3.
    const runPoller = async (finish: boolean) => {
      marks.length = 0;
      marks.push({ label: 'start', at: p.stack.tablestore.records.length });
      const first = p.invocations.length;
      p.fc.invokeAsync(POLLER_FUNCTION, timerEvent('bench', clock.now()));
      const inv = p.invocations.slice(first).find((i) => i.fn === 'poller');
      if (!inv) throw new Error('poller reads: the poller invocation did not start');
      inv.onSleep = () => marks.push({ label: 'sleep', at: p.stack.tablestore.records.length });
      let sleeps = 0;
      for (;;) {
        await quiescent(world, realDeadline);
        if (p.fc.busy === 0) break;
        const wake = clock.nextWake();
        if (wake === undefined) throw new Error('poller reads: a busy invocation that does not sleep');
        if (++sleeps === 2 && finish) {
          // End DashScope's running task now, so the next pass sees it finished.
          const running = sim.records.creates.map((c) => (c.taskId ? sim.task(c.taskId) : undefined)).find((t) => t?.status === 'RUNNING');
          if (running?.scheduledAt !== undefined) sim.advance(Math.max(1, running.scheduledAt + running.duration - sim.now() + 1));
          await sim.flush();
        }
        clock.advanceTo(wake);
      }
      marks.push({ label: 'end', at: p.stack.tablestore.records.length });
      return inv;
    };
    // A first run creates what every later tick finds (the lease row, the scan cursor): not
    // counted. It finishes a task, so one more job keeps the active count.
    await runPoller(true);
    await addJob();

    let seeded = 0;
    let seedMs = 0;
    const points: ReadPoint[] = [];
    for (const finished of o.finishedCounts) {
      const t0 = Date.now();
      const batch = Array.from({ length: Math.max(0, finished - seeded) }, (_, k) => finishedJob(seeded + k, v0 - 86_400_000 + (seeded + k) * 30_000));
      await seedRows(
        client,
        p.config.tablestore.table,
        batch.flatMap(({ jobId, job, taskId }) => [
          { kind: KIND.job, id: jobId, value: job },
          { kind: KIND.task, id: taskId, value: { jobId, jobKey: job.jobKey, versionId: job.current.id, createdAt: job.current.createdAt } satisfies TaskRecord },
        ]),
      );
      const last = batch.at(-1);
      if (last) {
        const back = await jobs.getJob(last.jobId);
        const known = await jobs.knownTasks([last.taskId]);
        if (back?.value.current.state !== 'SUCCEEDED' || back.rev !== 1 || !known.has(last.taskId)) throw new Error('seeding finished jobs: the rows do not read back as jobs');
      }
      seeded += batch.length;
      seedMs += Date.now() - t0;

      const inv = await runPoller(true);
      const report = inv.result as { ran?: boolean; passes?: number } | undefined;
      if (!report?.ran) throw new Error(`poller reads: the poller did not run (${JSON.stringify(report)})`);
      const records = p.stack.tablestore.records;
      const rows = (from: number, to: number) => records.slice(from, to).reduce((s, r) => s + r.rowsRead, 0);
      const swept = marks.find((m) => m.label === 'swept');
      const bounds = marks.filter((m) => m.label !== 'start' && m.label !== 'swept');
      if (!swept) throw new Error('poller reads: no sweep checkpoint');
      // Passes: swept → 1st sleep, between sleeps, last sleep → end (which also releases the lease).
      const cuts = [swept.at, ...bounds.map((b) => b.at)];
      const passRows = cuts.slice(1).map((to, i) => rows(cuts[i]!, to));
      const active = (await jobs.listActive()).length;
      points.push({
        finished,
        active: o.active,
        sweepRows: rows(marks[0]!.at, swept.at),
        waitingPassRows: median([passRows[0]!, passRows[1]!, passRows[3]!].filter((x) => x !== undefined)),
        finishingPassRows: passRows[2] ?? Number.NaN,
        passRows,
        requests: records.length - marks[0]!.at,
      });
      if (active !== o.active - 1) throw new Error(`poller reads: expected ${o.active - 1} active jobs after one finished, found ${active}`);
      await addJob(); // back to the same number of active jobs
    }
    return { points, seedSeconds: seedMs / 1000 };
  } finally {
    await p.close();
  }
}
