/**
 * Temporary upload (local-mode issue, simulator side; dashscope.md §4): getPolicy → multipart form
 * POST to the upload host → `oss://<key>` accepted only with `X-DashScope-OssResourceResolve:
 * enable`, only for the model named at upload, for 48 h of simulated time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashScopeSimulator, type DashScopeSimulator } from '../../lib/local/dashscope/index.js';
import { body, client, crossSketch, MODEL } from './dashscope-helpers.js';
import type { UploadPolicy } from '../../lib/local/temp-upload.js';

const HOUR = 3600_000;
const RESOLVE = { 'x-dashscope-ossresourceresolve': 'enable' };

/** What the client reads (lib/local/temp-upload.ts), plus the fields only the service's own SDK reads. */
type Policy = UploadPolicy & { expire_in_seconds: number; max_file_size_mb: number };

describe('DashScope simulator: temporary uploads (oss://)', () => {
  let sim: DashScopeSimulator;
  let sketch: Buffer;

  beforeAll(async () => {
    sketch = await crossSketch();
    sim = await startDashScopeSimulator({ timeScale: 0.005, submitsPerSecond: 1000, queriesPerSecond: 1000 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  async function getPolicy(model = MODEL, key = sim.apiKey) {
    return client(sim, key).raw(`/uploads?action=getPolicy&model=${encodeURIComponent(model)}`, { headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
  }

  /** The form the SDKs send (dashscope-sdk-python OssUtils.upload). */
  function form(p: Policy, fileName: string, file: Buffer, overrides: Record<string, string> = {}) {
    const f = new FormData();
    const fields: Record<string, string> = {
      OSSAccessKeyId: p.oss_access_key_id,
      Signature: p.signature,
      policy: p.policy,
      key: `${p.upload_dir}/${fileName}`,
      'x-oss-object-acl': p.x_oss_object_acl,
      'x-oss-forbid-overwrite': p.x_oss_forbid_overwrite,
      success_action_status: '200',
      'x-oss-content-type': 'image/png',
      ...overrides,
    };
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    f.append('file', new Blob([file], { type: 'image/png' }), fileName); // the file goes last
    return f;
  }

  async function upload(p: Policy, fileName: string, overrides: Record<string, string> = {}) {
    const res = await fetch(p.upload_host, { method: 'POST', body: form(p, fileName, sketch, overrides) });
    return { status: res.status, text: await res.text() };
  }

  it('getPolicy answers like the service', async () => {
    const res = await getPolicy();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      request_id: expect.any(String),
      data: {
        policy: expect.any(String),
        signature: expect.any(String),
        upload_dir: expect.stringMatching(/^dashscope-instant\/[^/]+\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]+$/),
        upload_host: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
        expire_in_seconds: 300,
        max_file_size_mb: 100,
        capacity_limit_mb: expect.any(Number),
        oss_access_key_id: expect.any(String),
        x_oss_object_acl: 'private',
        x_oss_forbid_overwrite: 'true',
      },
    });
    const decoded = JSON.parse(Buffer.from(res.body.data.policy, 'base64').toString());
    expect(decoded.conditions).toContainEqual(['starts-with', '$key', res.body.data.upload_dir]);
    expect((await client(sim, 'sk-wrong').raw('/uploads?action=getPolicy&model=x', { headers: { authorization: 'Bearer sk-wrong' } })).status).toBe(401);
    expect((await getPolicy('')).body.code).toBe('InvalidParameter');
  });

  it('upload → oss:// URL → task SUCCEEDED with the resolve header; 400 without it', async () => {
    const p = (await getPolicy()).body.data as Policy;
    const up = await upload(p, 'cat.png');
    expect(up.status).toBe(200);
    const ossUrl = `oss://${p.upload_dir}/cat.png`;
    const api = client(sim);

    const without = await api.create(body(ossUrl));
    expect(without.status).toBe(400);
    expect(without.body).toEqual({ code: 'InvalidParameter.DataInspection', message: expect.stringMatching(/data inspection/), request_id: expect.any(String) });

    const created = await api.create(body(ossUrl, { n: 1 }), RESOLVE);
    expect(created.status).toBe(200);
    const done = await api.wait(created.body.output.task_id);
    expect(done.body.output.task_status).toBe('SUCCEEDED');
    expect((await fetch(done.body.output.results[0].url)).status).toBe(200);
    expect(sim.records.submissionsFor(`${p.upload_dir}/cat.png`)).toHaveLength(1);
  });

  it('the upload host checks the policy like OSS PostObject', async () => {
    const p = (await getPolicy()).body.data as Policy;
    const wrongPrefix = await upload(p, 'x.png', { key: 'dashscope-instant/elsewhere/x.png' });
    expect(wrongPrefix.status).toBe(403);
    expect(wrongPrefix.text).toContain('<Code>AccessDenied</Code>');
    expect(wrongPrefix.text).toContain('Policy Condition failed');

    const tampered = await upload(p, 'x.png', { Signature: 'bm90IHRoZSBzaWduYXR1cmU=' });
    expect(tampered.status).toBe(403);
    expect(tampered.text).toContain('<Code>SignatureDoesNotMatch</Code>');

    const unknownKey = await upload(p, 'x.png', { OSSAccessKeyId: 'LTAInotakey' });
    expect(unknownKey.text).toContain('<Code>InvalidAccessKeyId</Code>');

    expect((await upload(p, 'once.png')).status).toBe(200);
    const again = await upload(p, 'once.png');
    expect(again.status).toBe(409);
    expect(again.text).toContain('<Code>FileAlreadyExists</Code>');

    const defaultStatus = await upload(p, 'no-status.png', { success_action_status: '' });
    expect(defaultStatus.status).toBe(204);

    sim.advance(301_000);
    const expired = await upload(p, 'late.png');
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('<Message>Invalid according to Policy: Policy expired.</Message>');
  });

  it('an oss:// file works only for the model named at upload and the same account', async () => {
    const other = await getPolicy('qwen-vl-plus');
    const p = other.body.data as Policy;
    expect((await upload(p, 'for-vl.png')).status).toBe(200);
    const api = client(sim);
    const created = await api.create(body(`oss://${p.upload_dir}/for-vl.png`, { n: 1 }), RESOLVE);
    const done = await api.wait(created.body.output.task_id);
    expect(done.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection', message: expect.stringMatching(/authorization/) });

    const missing = await api.wait((await api.create(body(`oss://${p.upload_dir}/nothing.png`, { n: 1 }), RESOLVE)).body.output.task_id);
    expect(missing.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection' });
  });

  it('oss:// files vanish after 48 h of simulated time', async () => {
    const p = (await getPolicy()).body.data as Policy;
    expect((await upload(p, 'old.png')).status).toBe(200);
    const api = client(sim);
    sim.advance(47 * HOUR);
    const fresh = await api.wait((await api.create(body(`oss://${p.upload_dir}/old.png`, { n: 1 }), RESOLVE)).body.output.task_id);
    expect(fresh.body.output.task_status).toBe('SUCCEEDED');
    sim.advance(HOUR + 1000);
    const stale = await api.wait((await api.create(body(`oss://${p.upload_dir}/old.png`, { n: 1 }), RESOLVE)).body.output.task_id);
    expect(stale.body.output).toMatchObject({ task_status: 'FAILED', code: 'InvalidParameter.DataInspection' });
    expect(sim.records.uploads.filter((u) => u.kind === 'upload' && u.status === 200).length).toBeGreaterThanOrEqual(4);
  });
});
