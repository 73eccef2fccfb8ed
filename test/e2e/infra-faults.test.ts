/**
 * Issue 13 run 7: faults of our own infrastructure are never blamed on the user's file. A 403 on
 * OSS image processing (a permission missing from the role), a sketch deleted while it is being
 * checked, or an `image/info` reply of another shape are retried (FC retries the event), not
 * turned into "UnsupportedImage … is the file damaged?"; a task query failing for good is a lost
 * task (sent again, counted), not a slot busy for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStoreError } from '../../lib/errors.js';
import { jobIdOf } from '../../lib/contract/keys.js';
import type { ObjectStore } from '../../lib/core/ports.js';
import { lineSketch } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline;
let sketch: Buffer;
/** Per sketch key: the imageInfo failures still to give, each the error OSS would have answered. */
const imageInfoFaults = new Map<string, Array<(o: ObjectStore) => Promise<Error>>>();

beforeAll(async () => {
  p = await startTestPipeline({
    timeScale: 0.02,
    decorate: {
      objects: (o: ObjectStore): ObjectStore => ({
        ...o,
        list: (prefix) => o.list(prefix),
        listPage: (prefix, options) => o.listPage(prefix, options),
        copy: (from, to, options) => o.copy(from, to, options),
        head: (k, r) => o.head(k, r),
        getRange: (k, s, e, r) => o.getRange(k, s, e, r),
        put: (k, b, options) => o.put(k, b, options),
        delete: (k) => o.delete(k),
        presignGet: (k, ttl, process) => o.presignGet(k, ttl, process),
        async imageInfo(key, read) {
          const fault = imageInfoFaults.get(key)?.shift();
          if (fault) throw await fault(o);
          return o.imageInfo(key, read);
        },
      }),
    },
  });
  sketch = await lineSketch(512);
});
afterAll(async () => {
  await p?.close();
});

async function run(name: string) {
  await p.put(`sketches/infra/${name}.json`, JSON.stringify({ prompt: name }));
  await p.put(`sketches/infra/${name}.png`, sketch);
  return p.waitForManifest(`sketches/infra/${name}`, 30_000);
}

describe('OSS image processing faults', () => {
  it.each([
    ['denied', () => new ObjectStoreError('AccessDenied', 'image/info: You have no right to access this object because of bucket acl.', 403)],
    ['odd-reply', () => new ObjectStoreError('InvalidReply', 'image/info: unexpected reply {}', 502)],
    ['server-error', () => new ObjectStoreError('InternalError', 'image/info: We encountered an internal error.', 500)],
  ])('%s: retried, and the sketch succeeds', async (name, fault) => {
    imageInfoFaults.set(`sketches/infra/${name}.png`, [async () => fault(), async () => fault()]);
    const m = await run(name);
    expect(m.status).toBe('SUCCEEDED');
    expect(imageInfoFaults.get(`sketches/infra/${name}.png`)).toEqual([]);
  });

  it('a sketch deleted while it was being checked: no manifest blames it', async () => {
    const key = 'sketches/infra/deleted.png';
    // The user deletes the sketch just as image/info looks at it: OSS answers 404.
    imageInfoFaults.set(key, [
      async (o) => {
        await o.delete(key);
        return new ObjectStoreError('NoSuchKey', 'image/info: The specified key does not exist.', 404);
      },
    ]);
    await p.put('sketches/infra/deleted.json', JSON.stringify({ prompt: 'deleted' }));
    await p.put(key, sketch);
    await p.waitFor('the fault to strike', () => imageInfoFaults.get(key)?.length === 0);
    await p.idle();
    expect(p.manifest('sketches/infra/deleted')).toBeUndefined();
    expect((await p.jobs().getJob(jobIdOf('sketches/infra/deleted')))?.value.current.state).not.toBe('FAILED');
  });

  it('bytes OSS cannot decode are still the file: UnsupportedImage', async () => {
    imageInfoFaults.set('sketches/infra/damaged.png', [async () => new ObjectStoreError('BadRequest', 'image/info: the image is damaged', 400)]);
    const m = await run('damaged');
    expect(m.status).toBe('FAILED');
    expect(m.error?.code).toBe('UnsupportedImage');
  });
});

describe('task queries failing for good', () => {
  it('a permanent 4xx a few times in a row: the task is treated as lost and sent again, counted', async () => {
    p.stack.dashscope.failNextRequests('query', 3, 'InvalidParameter', { status: 400, message: 'task_id is invalid' });
    const m = await run('query-4xx');
    expect(m.status).toBe('SUCCEEDED');
    expect(m.task?.attempts).toBe(2);
    expect(p.submissions('sketches/infra/query-4xx.png')).toBe(2);
    expect(p.logRecords().some((r) => r.msg === 'job state' && r.state === 'QUEUED' && String(r.reason).includes('the task query failed 3 times in a row (InvalidParameter)'))).toBe(true);
  });
});
