import { describe, expect, it } from 'vitest';
import { candidateObjectKeys, OssEventSchema } from '../../lib/events/oss.js';
import { TimerEventSchema } from '../../lib/events/timer.js';

const docSample = {
  events: [
    {
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      eventTime: '2022-08-13T06:45:43.000Z',
      eventVersion: '1.0',
      oss: {
        bucket: { arn: 'acs:oss:cn-hangzhou:123456789:testbucket', name: 'testbucket', ownerIdentity: '164901546557****' },
        object: {
          deltaSize: 122539,
          eTag: '688A7BF4F233DC9C88A80BF985AB****',
          key: 'source/a.png',
          objectMeta: { mimeType: 'application/zip', userMeta: { 'x-oss-meta-last-modified': '20250213' } },
          size: 122539,
        },
        ossSchemaVersion: '1.0',
        ruleId: '9adac8e253828f4f7c0466d941fa3db81161****',
      },
      region: 'cn-hangzhou',
      requestParameters: { sourceIPAddress: '140.205.XX.XX' },
      responseElements: { requestId: '58F9FF2D3DF792092E12044C' },
      userIdentity: { principalId: '164901546557****' },
    },
  ],
};

describe('OSS trigger event schema', () => {
  it('accepts the documented FC 3.0 sample', () => {
    expect(OssEventSchema.parse(docSample).events[0]!.oss.object.key).toBe('source/a.png');
  });

  it('accepts the older template shape (virtualBucket, no objectMeta)', () => {
    const old = structuredClone(docSample) as any;
    delete old.events[0].oss.object.objectMeta;
    old.events[0].oss.bucket.virtualBucket = '';
    expect(OssEventSchema.safeParse(old).success).toBe(true);
  });

  it('rejects an event without records or without an object key, naming the path', () => {
    expect(OssEventSchema.safeParse({ events: [] }).success).toBe(false);
    const bad = structuredClone(docSample) as any;
    delete bad.events[0].oss.object.key;
    const result = OssEventSchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues[0]!.path)).toContain('key');
  });
});

describe('OSS trigger event schema: validate what is used, tolerate the rest (issue 13 run 8)', () => {
  it.each([
    ['eventSource', (r: any) => (r.eventSource = 'acs:oss:v2')],
    ['eventTime missing', (r: any) => delete r.eventTime],
    ['region missing', (r: any) => delete r.region],
    ['bucket.arn missing', (r: any) => delete r.oss.bucket.arn],
    ['object.size as a string', (r: any) => (r.oss.object.size = '122539')],
    ['eTag missing', (r: any) => delete r.oss.object.eTag],
    ['eventName missing', (r: any) => delete r.eventName],
    ['a new field', (r: any) => (r.oss.object.versionId = 'v1')],
  ])('a drifted field the pipeline never reads (%s) still delivers the key', (_what, drift) => {
    const event = structuredClone(docSample) as any;
    drift(event.events[0]);
    const parsed = OssEventSchema.safeParse(event);
    expect(parsed.success).toBe(true);
    expect(parsed.data!.events[0]!.oss.object.key).toBe('source/a.png');
    expect(parsed.data!.events[0]!.oss.bucket.name).toBe('testbucket');
  });

  it('still refuses a record without a bucket name, naming it', () => {
    const bad = structuredClone(docSample) as any;
    delete bad.events[0].oss.bucket.name;
    const result = OssEventSchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues[0]!.path)).toContain('name');
  });
});

describe('candidateObjectKeys', () => {
  it('tries the raw key first, then decoded readings', () => {
    expect(candidateObjectKeys('sketches/a b.png')).toEqual(['sketches/a b.png']);
    expect(candidateObjectKeys('sketches/a%20b.png')).toEqual(['sketches/a%20b.png', 'sketches/a b.png']);
    expect(candidateObjectKeys('sketches/a+b.png')).toEqual(['sketches/a+b.png', 'sketches/a b.png']);
    expect(candidateObjectKeys('sketches/100%.png')).toEqual(['sketches/100%.png']);
    expect(candidateObjectKeys('sketches/%E7%8C%AB.png')).toEqual(['sketches/%E7%8C%AB.png', 'sketches/猫.png']);
  });
});

describe('timer event schema', () => {
  it('accepts the documented sample', () => {
    expect(TimerEventSchema.parse({ triggerTime: '2023-12-26T07:49:00Z', triggerName: 'timer-trigger', payload: 'awesome-fc' }).triggerName).toBe('timer-trigger');
  });
});
