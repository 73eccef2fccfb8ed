/**
 * The completion event as an FC 3.0 EventBridge trigger may hand it to the poller
 * (lib/events/dashscope.ts, docs/reference/events.md): every plausible shape reads the same.
 */
import { describe, expect, it } from 'vitest';
import { eventRulePattern, matchesEventRule, parseTaskEvents } from '../../lib/events/dashscope.js';

const MODELS = ['wanx-sketch-to-image-lite'];

/** The documented example (ATN), with our model's key. */
const cloudEvent = (taskId = 'a154c328-0000-0000-0000-e52a9a7e9a35', model = 'wanx-sketch-to-image-lite') => ({
  datacontenttype: 'application/json;charset=utf-8',
  aliyunaccountid: 'xxxxx',
  aliyunpublishtime: '2023-10-25T01:45:16.993Z',
  data: {
    start_time: '2023-10-25 09:45:09',
    user_api_unique_key: `apikey:v1:aigc:image2image:image-synthesis:${model}`,
    task_status: 'SUCCEEDED',
    contain_result: false,
    end_time: '2023-10-25 09:45:16',
    task_id: taskId,
    region: 'cn-beijing',
    request_id: '108f38f5-0000-0000-0000-6504db9080b3',
    api_key_id: '1250',
  },
  aliyunoriginalaccountid: 'xxxxxxxx',
  specversion: '1.0',
  aliyuneventbusname: 'default',
  id: '81765e5b-0000-0000-0000-bbad8dde2bd9',
  source: 'acs.dashscope',
  time: '2023-1-25T01:45:16.969Z',
  aliyunregionid: 'cn-beijing',
  type: 'dashscope:System:AsyncTaskFinish',
});
const read = (body: unknown) => parseTaskEvents(body, MODELS);

describe('DashScope completion event, every shape', () => {
  const one = { taskId: 'a154c328-0000-0000-0000-e52a9a7e9a35', status: 'SUCCEEDED', model: 'wanx-sketch-to-image-lite' };

  it('one CloudEvent (CloudEvents schema)', () => {
    expect(read(cloudEvent())).toEqual({ events: [{ ...one, eventId: '81765e5b-0000-0000-0000-bbad8dde2bd9' }], ignored: [] });
  });

  it('a batch of CloudEvents', () => {
    expect(read([cloudEvent('A'), cloudEvent('B')])?.events.map((e) => e.taskId)).toEqual(['A', 'B']);
  });

  it('only data (RawData), alone or batched', () => {
    expect(read(cloudEvent().data)).toEqual({ events: [one], ignored: [] });
    expect(read([cloudEvent('A').data, cloudEvent('B').data])?.events.map((e) => e.taskId)).toEqual(['A', 'B']);
  });

  it('data as a JSON string, or as data_base64', () => {
    const e = cloudEvent();
    expect(read({ ...e, data: JSON.stringify(e.data) })?.events[0]).toMatchObject(one);
    const { data, ...rest } = e;
    expect(read({ ...rest, data_base64: Buffer.from(JSON.stringify(data)).toString('base64') })?.events[0]).toMatchObject(one);
  });

  it('fields that drift, or are missing, do not matter: only task_id is needed', () => {
    expect(read({ task_id: 'T' })).toEqual({ events: [{ taskId: 'T' }], ignored: [] });
    const drifted = { ...cloudEvent(), subject: 'acs:dashscope:…', data: { ...cloudEvent().data, task_status: 42, end_time: null, extra: { a: 1 } } };
    expect(read(drifted)?.events[0]).toEqual({ taskId: one.taskId, model: one.model, eventId: '81765e5b-0000-0000-0000-bbad8dde2bd9' });
  });

  it("another model's task, another source or type, or no task id: ignored, with why", () => {
    const other = read(cloudEvent('X', 'wan2.5-i2i-preview'));
    expect(other?.events).toEqual([]);
    expect(other?.ignored[0]).toMatch(/another model \(wan2\.5-i2i-preview\)/);
    expect(read({ ...cloudEvent(), source: 'acs.oss' })?.ignored[0]).toMatch(/not a DashScope task event/);
    expect(read({ ...cloudEvent(), data: { task_status: 'SUCCEEDED' } })?.ignored).toEqual(['no data.task_id']);
    // A batch keeps what is ours.
    expect(read([cloudEvent('A'), cloudEvent('X', 'other-model')])?.events.map((e) => e.taskId)).toEqual(['A']);
  });

  it('not a completion event in any shape: undefined (a timer event, garbage, an empty batch)', () => {
    expect(read({ triggerTime: '2024-11-01T09:50:00Z', triggerName: 'timer', payload: 'timer' })).toBeUndefined();
    expect(read(undefined)).toBeUndefined();
    expect(read('task_id')).toBeUndefined();
    expect(read([])).toBeUndefined();
    expect(read([cloudEvent(), 'x'])).toBeUndefined();
  });
});

describe("the trigger's event pattern", () => {
  it('matches task-finish events of our models by the suffix of user_api_unique_key', () => {
    expect(eventRulePattern(MODELS)).toEqual({
      source: ['acs.dashscope'],
      type: ['dashscope:System:AsyncTaskFinish'],
      data: { user_api_unique_key: [{ suffix: ':wanx-sketch-to-image-lite' }] },
    });
    expect(matchesEventRule(cloudEvent(), MODELS)).toBe(true);
    expect(matchesEventRule(cloudEvent('X', 'wan2.5-i2i-preview'), MODELS)).toBe(false);
    expect(matchesEventRule({ ...cloudEvent(), type: 'dashscope:System:Other' }, MODELS)).toBe(false);
  });
});
