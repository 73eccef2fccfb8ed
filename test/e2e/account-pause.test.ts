/**
 * Issue 13 run 6: DashScope refusing the account (a revoked key, an overdue bill, a model not
 * bought, the free quota used up) is not the jobs' fault. Submission pauses: every job stays
 * QUEUED with no manifest, `status` and the log say why, and work resumes by itself once the
 * account is fixed (here: once the simulator stops refusing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { pipelineStatus } from '../../lib/core/operations.js';
import { createRuntime } from '../../lib/runtime.js';
import { formatStatus } from '../../lib/cli/status.js';

let p: TestPipeline;
let sketch: Buffer;

beforeAll(async () => {
  p = await startTestPipeline({ timeScale: 0.02, env: { ACCOUNT_RETRY_SECONDS: '0.4' } });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

function operatorDeps() {
  const d = p.stack.describe();
  return createRuntime({ env: p.env, logSink: () => {} }).depsFor({ credentials: { accessKeyId: d.oss.accessKeyId, accessKeySecret: d.oss.accessKeySecret } }, 'poller');
}

describe.each([
  ['revoked-key', 'InvalidApiKey', { status: 401, message: 'Invalid API-key provided.' }],
  ['overdue', 'Arrearage', { status: 400, message: 'Access denied, please make sure your account is in good standing.' }],
  ['unpurchased', 'AccessDenied.Unpurchased', { status: 403, message: 'Access to model denied. Please make sure you are eligible for using the model.' }],
  ['free-quota', 'Throttling.AllocationQuota', { status: 429, message: 'Free allocated quota exceeded.' }],
] as const)('the account refused (%s, %s)', (name, code, reply) => {
  it('pauses submission: jobs stay QUEUED, status and log say why; resumes by itself once fixed', async () => {
    const names = ['a', 'b', 'c'].map((x) => `sketches/${name}/${x}`);
    // The first create and the first probe are refused; then the account works again.
    p.stack.dashscope.failNextCreates(2, code, reply);
    for (const n of names) {
      await p.put(`${n}.json`, JSON.stringify({ prompt: n }));
      await p.put(`${n}.png`, sketch);
    }
    const deps = operatorDeps();
    const paused = await p.waitFor('a paused status', async () => {
      const s = await pipelineStatus(deps, `sketches/${name}/`);
      return s.paused ? s : undefined;
    });
    expect(paused.paused).toMatchObject({ code });
    expect(paused.jobs.map((j) => j.state).every((s) => s === 'QUEUED' || s === 'SUBMITTING')).toBe(true);
    expect(formatStatus(paused, 'test')).toMatch(new RegExp(`submission: PAUSED since .*DashScope refused the account \\(${code.replace('.', '\\.')}:`));
    for (const n of names) expect(p.manifest(n)).toBeUndefined();
    expect(p.logRecords().some((r) => r.msg === 'submission paused: DashScope refused the account' && r.code === code)).toBe(true);

    const manifests = await Promise.all(names.map((n) => p.waitForManifest(n, 30_000)));
    expect(manifests.map((m) => m.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    // Refused creates made nothing: none is counted as an attempt.
    expect(manifests.map((m) => m.task?.attempts)).toEqual([1, 1, 1]);
    expect((await pipelineStatus(deps, `sketches/${name}/`)).paused).toBeUndefined();
    expect(p.logRecords().some((r) => r.msg === 'submission resumed: DashScope accepted the account again')).toBe(true);
  });
});
