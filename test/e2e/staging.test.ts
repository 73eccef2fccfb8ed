/**
 * The staging copies of sketches with odd names (SPEC §1 naming rule) live only while a version
 * may still be fetched: gone when the job finishes — also after a crash between any two steps —,
 * gone when a newer version supersedes it, and anything left in the staging folder that no
 * version needs is swept by the poller's catch-up listing (hourly, at the end of a full pass).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdOf, stagingKeyOf, versionIdOf } from '../../lib/contract/keys.js';
import { JOB_CHECKPOINTS } from '../../lib/core/deps.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const STAGING = 'sketchflow-staging/';
let p: TestPipeline;
let sketch: Buffer;
const crashed = new Set<string>();
const crashJob = (step: string) => `sketches/崩溃/${step.replace(':', '-')} 草图`;

beforeAll(async () => {
  p = await startTestPipeline({
    timeScale: 0.02,
    env: { DASHSCOPE_TIMEOUT_SECONDS: '0.2' },
    // A crash: the step throws once, the invocation fails, FC retries it (or the timer comes back).
    checkpoint: (name, jobKey) => {
      if (jobKey === crashJob(name) && !crashed.has(name)) {
        crashed.add(name);
        throw new Error(`injected crash at ${name}`);
      }
    },
  });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

async function stagingKeys(): Promise<string[]> {
  const page = await p.client.listV2({ prefix: STAGING, 'max-keys': 1000 }, {});
  return (page.objects ?? []).map((o) => o.name).sort();
}

const stagedCreates = (jobKey: string) => p.stack.dashscope.records.creates.filter((c) => c.taskId && c.sketchPath?.startsWith(`/${STAGING}${jobIdOf(jobKey)}/`));

describe('staging copies', () => {
  it('a crash between any two steps: every job still SUCCEEDED, and no copy is left', async () => {
    const names = JOB_CHECKPOINTS.map(crashJob);
    for (const n of names) {
      await p.put(`${n}.txt`, `a drawing, ${n}`);
      await p.put(`${n}.png`, sketch);
    }
    const manifests = await Promise.all(names.map((n) => p.waitForManifest(n, 60_000)));
    expect(manifests.map((m) => m.status)).toEqual(Array(names.length).fill('SUCCEEDED'));
    for (const step of JOB_CHECKPOINTS) expect(crashed.has(step), step).toBe(true);
    for (const n of names) expect(stagedCreates(n).length, n).toBeGreaterThanOrEqual(1);
    await p.idle();
    expect(await stagingKeys()).toEqual([]);
    // A crashed poller's outputs lease ends at its deadline (its 13 s timeout, plus a margin).
  }, 60_000);

  it('a version superseded while DashScope runs it: both copies go (the old one when its task is let go)', async () => {
    const job = 'sketches/替换/灯塔';
    await p.put(`${job}.txt`, 'old');
    await p.put(`${job}.png`, sketch);
    const firstTask = await p.waitFor('the first task to run', () => {
      const c = stagedCreates(job)[0];
      return c?.taskId && p.stack.dashscope.task(c.taskId)?.status === 'RUNNING' ? c.taskId : undefined;
    });
    const firstCopy = stagedCreates(job)[0]!.sketchPath!.slice(1);
    expect(await stagingKeys()).toContain(firstCopy);
    await p.put(`${job}.txt`, 'new');
    const m = await p.waitFor('the newer manifest', () => (p.manifest(job)?.request?.prompt === 'new' ? p.manifest(job) : undefined));
    expect(m.status).toBe('SUCCEEDED');
    await p.waitFor('the old task to end', () => p.stack.dashscope.task(firstTask)?.status === 'SUCCEEDED');
    await p.waitFor('both copies to go', async () => (await stagingKeys()).length === 0, 10_000);
    const copies = stagedCreates(job).map((c) => c.sketchPath);
    expect(new Set(copies).size).toBe(2); // one name per version
  });

  it('leftovers no version needs are swept by the catch-up listing; files sketchflow did not name are kept', async () => {
    const job = 'sketches/遗留/猫';
    await p.put(`${job}.txt`, 'a cat');
    await p.put(`${job}.png`, sketch);
    await p.waitForManifest(job);
    await p.idle();
    // As a crash could leave them: a copy of the finished version, one of a version long gone,
    // one of a job never seen; and someone else's file in the folder.
    const jobId = jobIdOf(job);
    const row = (await p.jobs().getJob(jobId))!.value;
    const leftovers = [
      stagingKeyOf(STAGING, jobId, row.current.id, row.current.sketch.key),
      stagingKeyOf(STAGING, jobId, versionIdOf({ sketchKey: `${job}.png`, sketchEtag: 'GONE' }), `${job}.png`),
      stagingKeyOf(STAGING, jobIdOf('sketches/never'), versionIdOf({ sketchKey: 'sketches/never.png', sketchEtag: 'X' }), 'sketches/never.webp'),
    ];
    for (const key of leftovers) await p.client.copy(key, `${job}.png`);
    await p.put(`${STAGING}notes/readme.txt`, 'not ours');
    expect(await stagingKeys()).toHaveLength(4);
    // The last sweep was moments ago: make the next pass's the hourly one.
    await p.jobs().setScanCursor({});
    await p.waitFor('the leftovers to be swept', async () => (await stagingKeys()).length === 1, 10_000);
    expect(await stagingKeys()).toEqual([`${STAGING}notes/readme.txt`]);
    expect((await p.jobs().scanCursor()).stagingSweptAt).toBeGreaterThan(0);
    // None of this made any work.
    expect(p.logRecords().filter((r) => r.msg === 'job state' && String(r.jobKey).startsWith(STAGING))).toEqual([]);
  });
});
