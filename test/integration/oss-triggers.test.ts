/**
 * OSS emulator conformance, triggers: the FC OSS event body (validated by the schema the submit
 * function uses), rule matching, and delivery after the HTTP response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATED_EVENT_NAMES, OssEventSchema, candidateObjectKeys, type OssEventRecord } from '../../lib/events/oss.js';
import { startOssEmulator, type OssEmulator, type TriggerRule } from '../../lib/local/oss/index.js';
import { headersOf, meta, ossClient, waitFor } from './oss-client.js';

let emu: OssEmulator;
beforeAll(async () => {
  emu = await startOssEmulator({ accountId: '1234567890123456' });
});
afterAll(async () => {
  await emu.close();
});

/** Collects validated event records for a rule. */
function collect(rule: TriggerRule, on: OssEmulator = emu) {
  const got: OssEventRecord[] = [];
  const off = on.onObjectCreated(rule, (event) => {
    const parsed = OssEventSchema.parse(JSON.parse(JSON.stringify(event)));
    got.push(...parsed.events);
  });
  return { got, off };
}

describe('event body', () => {
  it('matches the FC OSS trigger event for a put', async () => {
    const { got, off } = collect({ prefix: 'ev/' });
    const body = Buffer.from('sketch');
    const put = await ossClient(emu).put('ev/cat.png', body, { meta: meta({ prompt: 'a%20cat' }) });
    await waitFor(() => got[0], 2000, 'put event');
    off();
    const e = got[0]!;
    expect(e).toMatchObject({
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      eventVersion: '1.0',
      region: 'cn-beijing',
      oss: {
        bucket: { name: emu.bucket, arn: `acs:oss:cn-beijing:1234567890123456:${emu.bucket}`, ownerIdentity: '1234567890123456' },
        object: {
          key: 'ev/cat.png',
          size: 6,
          deltaSize: 6,
          eTag: headersOf(put).etag!.replace(/"/g, ''),
          objectMeta: { mimeType: 'image/png', userMeta: { 'x-oss-meta-prompt': 'a%20cat' } },
        },
        ossSchemaVersion: '1.0',
      },
      responseElements: { requestId: headersOf(put)['x-oss-request-id'] },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      userIdentity: { principalId: '1234567890123456' },
    });
    expect(e.oss.object.eTag).toMatch(/^[0-9A-F]{32}$/);
    expect(new Date(e.eventTime!).toISOString()).toBe(e.eventTime);
  });

  it('reports deltaSize against the replaced version, and CopyObject for copies', async () => {
    const { got, off } = collect({ prefix: 'delta/', events: ['ObjectCreated:PutObject', 'ObjectCreated:CopyObject'] });
    const c = ossClient(emu);
    await c.put('delta/a.txt', Buffer.from('12345'));
    await c.put('delta/a.txt', Buffer.from('12'));
    await c.copy('delta/b.txt', 'delta/a.txt');
    await waitFor(() => got[2], 2000, 'three events');
    off();
    expect(got.map((e) => [e.eventName, e.oss.object.key, e.oss.object.size, e.oss.object.deltaSize])).toEqual([
      ['ObjectCreated:PutObject', 'delta/a.txt', 5, 5],
      ['ObjectCreated:PutObject', 'delta/a.txt', 2, -3],
      ['ObjectCreated:CopyObject', 'delta/b.txt', 2, 2],
    ]);
  });

  it('carries odd keys as they are (raw), percent-encoded or form-encoded when asked (eventKeyStyle)', async () => {
    const key = 'keys/猫 + 100%.png';
    const { got, off } = collect({ prefix: 'keys/' });
    await ossClient(emu).put(key, Buffer.from('x'));
    await waitFor(() => got[0], 2000, 'event');
    off();
    expect(got[0]!.oss.object.key).toBe(key);

    const expected = { encoded: 'keys/%E7%8C%AB%20%2B%20100%25.png', form: 'keys/%E7%8C%AB+%2B+100%25.png' } as const;
    for (const style of ['encoded', 'form'] as const) {
      const other = await startOssEmulator({ eventKeyStyle: style });
      try {
        const c2 = collect({}, other);
        other.putObject(key, 'x');
        await waitFor(() => c2.got[0], 2000, 'event');
        expect(c2.got[0]!.oss.object.key, style).toBe(expected[style]);
        // The submit function's reading of a key finds the stored one under every style.
        expect(candidateObjectKeys(c2.got[0]!.oss.object.key), style).toContain(key);
      } finally {
        await other.close();
      }
    }
  });
});

describe('rules and delivery', () => {
  it('filter by prefix, case-sensitive suffix and event name', async () => {
    const pngs = collect({ prefix: 'rules/sketches/', suffix: '.png' });
    const puts = collect({ prefix: 'rules/', events: ['ObjectCreated:PutObject'] });
    const c = ossClient(emu);
    await c.put('rules/sketches/a.png', Buffer.from('a'));
    await c.put('rules/sketches/b.PNG', Buffer.from('b'));
    await c.put('rules/other/c.png', Buffer.from('c'));
    await c.copy('rules/sketches/d.png', 'rules/sketches/a.png');
    emu.putObject('rules/sketches/e.png', 'seeded');
    await emu.settled();
    pngs.off();
    puts.off();
    expect(pngs.got.map((e) => `${e.eventName} ${e.oss.object.key}`)).toEqual([
      'ObjectCreated:PutObject rules/sketches/a.png',
      'ObjectCreated:CopyObject rules/sketches/d.png',
      'ObjectCreated:PutObject rules/sketches/e.png',
    ]);
    expect(puts.got.map((e) => e.oss.object.key)).toEqual(['rules/sketches/a.png', 'rules/sketches/b.PNG', 'rules/other/c.png', 'rules/sketches/e.png']);
  });

  it("the seeding helper can stand in for the other created events sketchflow subscribes to", async () => {
    const { got, off } = collect({ prefix: 'seed/', events: [...CREATED_EVENT_NAMES] });
    emu.putObject('seed/a.png', 'a', { eventName: 'ObjectCreated:CompleteMultipartUpload' });
    emu.putObject('seed/b.png', 'b', { eventName: 'ObjectCreated:PostObject', meta: { prompt: 'hi' } });
    emu.putObject('seed/c.png', 'c', { eventName: 'ObjectCreated:CopyObject' });
    await emu.settled();
    off();
    expect(got.map((e) => e.eventName)).toEqual(['ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:PostObject']);
    expect((got[1]!.oss.object as { objectMeta?: { userMeta?: unknown } }).objectMeta?.userMeta).toEqual({ 'x-oss-meta-prompt': 'hi' });
  });

  it('delivers after the HTTP response, never inside it', async () => {
    const slow = await startOssEmulator({ triggerDelayMs: 150 });
    try {
      const order: string[] = [];
      slow.onObjectCreated({ prefix: 'async/' }, () => order.push('event'));
      await ossClient(slow).put('async/a.png', Buffer.from('a'));
      order.push('response');
      await slow.settled();
      expect(order).toEqual(['response', 'event']);
    } finally {
      await slow.close();
    }
  });

  it('sends nothing for failed uploads, deletes or reads, and stops after unsubscribe', async () => {
    const { got, off } = collect({ prefix: 'quiet/' });
    const c = ossClient(emu);
    await c.put('quiet/a.png', Buffer.from('a'), { headers: { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }).catch(() => undefined);
    emu.putObject('quiet/b.png', 'b');
    await emu.settled();
    await c.get('quiet/b.png');
    await c.delete('quiet/b.png');
    off();
    emu.putObject('quiet/c.png', 'c');
    await emu.settled();
    expect(got.map((e) => e.oss.object.key)).toEqual(['quiet/b.png']);
  });

  it('a throwing listener does not break the emulator or other listeners', async () => {
    const offBad = emu.onObjectCreated({ prefix: 'throw/' }, () => {
      throw new Error('listener bug (expected in this test)');
    });
    const { got, off } = collect({ prefix: 'throw/' });
    await ossClient(emu).put('throw/a.png', Buffer.from('a'));
    await emu.settled();
    offBad();
    off();
    expect(got).toHaveLength(1);
  });
});
