/**
 * SPEC §6: a bad configuration stops the functions with one message naming every problem.
 * SPEC §3/§4 and the guide: API keys, access key secrets, STS tokens and URL signatures never
 * appear in logs, manifests or thrown errors — checked by grepping everything a run produced,
 * including failures that carry URLs in their messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubmitHandler } from '../../functions/submit/index.js';
import { createPollerHandler } from '../../functions/poller/index.js';
import { ConfigError } from '../../lib/errors.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

describe('configuration', () => {
  it('a missing DASHSCOPE_API_KEY and MAX_IN_FLIGHT=abc stop both functions with one message naming both', async () => {
    const env = { OSS_BUCKET: 'b-bucket', TABLESTORE_ENDPOINT: 'http://127.0.0.1:1', TABLESTORE_INSTANCE: 'inst', MAX_IN_FLIGHT: 'abc' };
    const event = Buffer.from('{"events":[]}');
    for (const handler of [createSubmitHandler({ env }), createPollerHandler({ env })]) {
      const err = await handler(event, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(
        'invalid configuration: DASHSCOPE_API_KEY is required; MAX_IN_FLIGHT must be an integer 1–16 (got "abc")',
      );
    }
  });
});

describe('no secret leaves the pipeline', () => {
  let p: TestPipeline;

  beforeAll(async () => {
    p = await startTestPipeline({ env: { LOG_LEVEL: 'debug', DASHSCOPE_TIMEOUT_SECONDS: '0.3', ACCOUNT_RETRY_SECONDS: '0.3' } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('logs, manifests and errors hold no key, token or signature', async () => {
    const sketch = await lineSketch(512);
    const d = p.stack.describe();
    // A failure whose message carries a presigned URL, as DashScope's download errors can.
    const signedUrl = await p.client.signatureUrlV4('GET', 60, undefined, 'sketches/sec/a.png');
    const run = async (name: string, sidecar = JSON.stringify({ prompt: name })) => {
      await p.put(`sketches/sec/${name}.json`, sidecar);
      await p.put(`sketches/sec/${name}.png`, sketch);
      return p.waitForManifest(`sketches/sec/${name}`, 20_000);
    };
    p.stack.dashscope.failTask('InvalidParameter', { message: `Failed to download ${signedUrl}` });
    const a = await run('a');
    p.stack.dashscope.failNextCreates(1, 'InvalidApiKey', { status: 401, message: `Invalid API-key provided: ${d.dashscope.apiKey}` });
    const b = await run('b');
    p.stack.dashscope.resetNext('result', 5);
    const c = await run('c');
    const dd = await run('d', '{"prompt": ');
    const manifests = [a, b, c, dd];
    // b's key was refused once (submission paused, its message logged), then accepted; c's
    // downloads were reset 5 times: retried on later passes, the images landed.
    expect(manifests.map((m) => m.status)).toEqual(['FAILED', 'SUCCEEDED', 'SUCCEEDED', 'FAILED']);
    expect(p.logRecords().some((r) => r.msg === 'submission paused: DashScope refused the account')).toBe(true);
    expect(manifests[0]!.error!.message).toContain('x-oss-signature=[REDACTED]');
    await p.idle();

    const secrets = [d.dashscope.apiKey, d.oss.accessKeySecret, d.tablestore.accessKeySecret];
    for (const sts of p.stack.credentials.all()) {
      secrets.push(sts.accessKeySecret);
      if (sts.securityToken) secrets.push(sts.securityToken);
    }
    const manifestTexts = p.stack.oss.keys('sketches/').filter((k) => k.endsWith('.result.json')).map((k) => p.stack.oss.peek(k)!.body.toString('utf8'));
    const errors = p.fc.records.map((r) => r.error ?? '').filter(Boolean);
    const everything = [...p.logs, ...manifestTexts, ...errors];
    expect(everything.length).toBeGreaterThan(20);
    for (const text of everything) {
      for (const secret of secrets) expect(text.includes(secret), `a secret in: ${text.slice(0, 200)}`).toBe(false);
      // Every signature or credential in a URL is redacted.
      expect(text).not.toMatch(/(x-oss-signature|x-oss-credential|x-oss-security-token|Signature)=(?!\[REDACTED\])[^&\s"]/i);
      expect(text).not.toMatch(/Bearer (?!\[REDACTED\])/);
    }
  });
});
