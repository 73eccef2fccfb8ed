/**
 * The local Function Compute (lib/local/fc.ts) that `npm start`, the tests and the soak run the
 * handlers in: async retries as configured, then the event dropped and reported; the timeout; the
 * context FC hands a function; the InvokeFunction API with a deferred start.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../lib/local/credentials.js';
import { LocalFunctionCompute, type FcInvocationContext } from '../../lib/local/fc.js';

let fc: LocalFunctionCompute | undefined;
afterEach(async () => {
  await fc?.close();
  fc = undefined;
});

function start(dropped: Array<{ fn: string; event: string; error: string }> = []) {
  const credentials = new CredentialStore();
  fc = new LocalFunctionCompute({ credentials, retryDelayMs: () => 5, onDropped: (fn, event, error) => dropped.push({ fn, event: event.toString(), error }) });
  return { fc, credentials, dropped };
}

describe('asynchronous invocation', () => {
  it('retries a failing function maxAsyncRetryAttempts times, then drops the event and reports it', async () => {
    const { fc, dropped } = start();
    let calls = 0;
    fc.register({ name: 'flaky', timeout: 5, maxAsyncRetryAttempts: 2, handler: async () => { calls++; throw new Error(`failure ${calls}`); } });
    fc.invokeAsync('flaky', Buffer.from('{"n":1}'));
    await fc.idle();
    expect(calls).toBe(3);
    expect(fc.records.map((r) => [r.attempt, r.outcome])).toEqual([[0, 'error'], [1, 'error'], [2, 'error']]);
    expect(dropped).toEqual([{ fn: 'flaky', event: '{"n":1}', error: 'failure 3' }]);
  });

  it('with 0 retries (the poller in s.yaml) one failure drops the event; a success stops the retries', async () => {
    const { fc, dropped } = start();
    fc.register({ name: 'once', timeout: 5, maxAsyncRetryAttempts: 0, handler: async () => { throw new Error('no'); } });
    let calls = 0;
    fc.register({ name: 'second-time', timeout: 5, handler: async () => { if (++calls === 1) throw new Error('first'); return 'ok'; } });
    fc.invokeAsync('once', Buffer.from('a'));
    fc.invokeAsync('second-time', Buffer.from('b'));
    await fc.idle();
    expect(dropped.map((d) => d.fn)).toEqual(['once']);
    expect(calls).toBe(2);
    expect(fc.records.filter((r) => r.fn === 'second-time').map((r) => r.outcome)).toEqual(['error', 'ok']);
  });

  it('an invocation past its timeout fails as "timeout" and is retried like an error', async () => {
    const { fc, dropped } = start();
    fc.register({ name: 'slow', timeout: 0.05, maxAsyncRetryAttempts: 1, handler: () => new Promise((r) => setTimeout(r, 300)) });
    fc.invokeAsync('slow', Buffer.from('x'));
    await fc.idle();
    expect(fc.records.map((r) => r.outcome)).toEqual(['timeout', 'timeout']);
    expect(dropped[0]?.error).toBe('Function timed out after 0.05 seconds');
  });
});

describe('what a function is given', () => {
  it('the event as a Buffer and a context with STS credentials the emulators accept, one session per function', async () => {
    const { fc, credentials } = start();
    const seen: Array<{ event: unknown; context: FcInvocationContext }> = [];
    fc.register({ name: 'probe', timeout: 5, memory: 256, handler: async (event, context) => { seen.push({ event, context }); } });
    await fc.invoke('probe', Buffer.from('{}'));
    await fc.invoke('probe', Buffer.from('{}'));
    const [{ event, context }, second] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(Buffer.isBuffer(event)).toBe(true);
    expect(context).toMatchObject({ function: { name: 'probe', handler: 'index.handler', memory: 256, timeout: 5 }, region: 'cn-beijing' });
    expect(context.requestId).not.toBe(second.context.requestId);
    expect(credentials.get(context.credentials.accessKeyId)?.securityToken).toBe(context.credentials.securityToken);
    expect(second.context.credentials).toEqual(context.credentials);
  });
});

describe('the InvokeFunction API', () => {
  it('starts an async invocation at once or after x-fc-async-delay, refuses unknown keys and functions', async () => {
    const { fc, credentials } = start();
    const started: number[] = [];
    fc.register({ name: 'kicked', timeout: 5, handler: async () => { started.push(Date.now()); } });
    const base = await fc.serveApi();
    const key = credentials.issueAccessKey();
    const post = (fn: string, headers: Record<string, string>, keyId = key.accessKeyId) =>
      fetch(`${base}/2023-03-30/functions/${fn}/invocations`, { method: 'POST', body: '{}', headers: { authorization: `ACS3-HMAC-SHA256 Credential=${keyId},SignedHeaders=host,Signature=x`, ...headers } });

    const t0 = Date.now();
    expect((await post('kicked', { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': '1' })).status).toBe(202);
    expect((await post('kicked', { 'x-fc-invocation-type': 'Async' })).status).toBe(202);
    await fc.idle();
    expect(started).toHaveLength(2);
    expect(started[0]! - t0).toBeLessThan(900); // the undelayed one
    expect(started[1]! - t0).toBeGreaterThanOrEqual(1000); // the deferred one, a second later

    expect((await post('kicked', { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': '3601' })).status).toBe(400);
    expect((await post('nobody', { 'x-fc-invocation-type': 'Async' })).status).toBe(404);
    expect((await post('kicked', {}, 'LTAIunknown')).status).toBe(403);
  });
});

describe('the EventBridge trigger', () => {
  const event = (taskId: string, model = 'wanx-sketch-to-image-lite') => ({
    source: 'acs.dashscope',
    type: 'dashscope:System:AsyncTaskFinish',
    id: `e-${taskId}`,
    data: { task_id: taskId, user_api_unique_key: `apikey:v1:aigc:image2image:image-synthesis:${model}` },
  });
  const bodies = () => fc!.records.map((r) => JSON.parse(String((r.result as { body: string }).body)) as unknown);

  it.each([
    ['cloudevent', [event('A'), event('B')]],
    ['batch', [[event('A'), event('B')]]],
    ['rawdata', [event('A').data, event('B').data]],
    ['rawdata-batch', [[event('A').data, event('B').data]]],
  ] as const)('hands the function %s: events of one instant together when batched; the pattern filters the rest', async (shape, expected) => {
    const { fc } = start();
    fc.register({ name: 'poller', timeout: 5, handler: async (e) => ({ body: e.toString('utf8') }) });
    const push = fc.connectEventBridgeTrigger('poller', { shape, matches: (e) => String((e.data as { user_api_unique_key: string }).user_api_unique_key).endsWith(':wanx-sketch-to-image-lite') });
    push(event('A'));
    push(event('X', 'wan2.5-i2i-preview'));
    push(event('B'));
    await fc.idle();
    expect(bodies()).toEqual(expected);
  });

  it('a deferred invocation does not keep quiet() waiting (a resting poller’s safety kick); idle() waits for it', async () => {
    const { fc } = start();
    let ran = 0;
    fc.register({ name: 'f', timeout: 5, handler: async () => void ran++ });
    fc.invokeDeferred('f', Buffer.from('{}'), 200);
    fc.invokeAsync('f', Buffer.from('{}'));
    await fc.quiet();
    expect(ran).toBe(1);
    expect(fc.busy).toBe(1);
    await fc.idle();
    expect(ran).toBe(2);
  });
});
