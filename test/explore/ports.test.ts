/**
 * The explorer's in-memory ports keep the real adapters' semantics: the direct fake model throws
 * what lib/adapters/dashscope.ts throws for the same answer (checked against the adapter itself,
 * run over the in-memory dispatcher), a create's effect never happens after its signal aborted,
 * and the bucket and table behave as OSS and Tablestore do through their adapters.
 */
import { describe, expect, it } from 'vitest';
import { ConditionFailedError, ModelError, TransportError } from '../../lib/errors.js';
import type { ImageModel } from '../../lib/core/ports.js';
import { FakeDashScope } from './ports/dashscope.js';
import { Faults, NO_FAULTS } from './ports/faults.js';
import { directModel } from './ports/model-direct.js';
import { wireModel } from './ports/model-wire.js';
import { MemoryBucket } from './ports/objects.js';
import { taggedJpeg, taggedPng } from './ports/png.js';
import { checkSketchBytes } from '../../lib/contract/image-check.js';
import { MemoryTable } from './ports/rows.js';
import { Scheduler, type Actor } from './scheduler.js';

const input = { model: 'wanx-sketch-to-image-lite', prompt: 'a house', sketchUrl: 'https://explorer-bucket.oss-cn-beijing.aliyuncs.com/sketches/a.png?x-oss-signature=x', parameters: { style: '<auto>' as const, size: '768*768' as const, n: 1 } };

function world() {
  const sched = new Scheduler(Date.UTC(2025, 2, 10, 4));
  const faults = new Faults(undefined, NO_FAULTS);
  const fake = new FakeDashScope(() => sched.now, faults);
  return { sched, faults, fake };
}

/** Runs `body` as one actor to its end, every op normally; returns its result or error. */
async function run<T>(sched: Scheduler, body: (actor: Actor) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let out: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  sched.spawn('test', 'submit', async (actor) => {
    try {
      out = { ok: true, value: await body(actor) };
    } catch (error) {
      out = { ok: false, error };
    }
  });
  for (let op = sched.pickReady({ int: () => 0 }); op; op = sched.pickReady({ int: () => 0 })) await sched.execute(op);
  return out!;
}

function shape(r: { ok: true; value: unknown } | { ok: false; error: unknown }): unknown {
  if (r.ok) return { ok: r.value };
  const e = r.error;
  if (e instanceof ModelError) return { ModelError: [e.code, e.status, e.requestId === undefined ? 'no request id' : 'request id', e.message.slice(0, 40)] };
  if (e instanceof TransportError) return { TransportError: [e.service, e.sent] };
  return { other: String(e) };
}

const models: Array<[string, (s: Scheduler, a: Actor, f: FakeDashScope) => ImageModel]> = [
  ['direct', (s, a, f) => directModel(s, a, f)],
  ['wire', (s, a, f) => wireModel(s, a, f, 1000)],
];

describe('the fake DashScope through both models', () => {
  const creates = ['ok', 'throttled', 'internal', 'invalid', 'account-key', 'account-arrears', 'account-unpurchased', 'account-free-quota', 'gateway-after', 'gateway-before', 'reset-after', 'timeout-after', 'reset-before'];
  for (const cls of creates) {
    it(`create answered ${cls}: the direct model throws what the adapter throws`, async () => {
      const shapes: unknown[] = [];
      for (const [, make] of models) {
        const w = world();
        w.faults.force('create', cls);
        const r = await run(w.sched, (actor) => make(w.sched, actor, w.fake).createTask(input));
        shapes.push(cls === 'ok' && r.ok ? 'ok' : shape(r));
        expect(w.fake.creates[0]!.taskId !== undefined).toBe(['ok', 'gateway-after', 'reset-after', 'timeout-after'].includes(cls));
      }
      expect(shapes[0]).toEqual(shapes[1]);
    });
  }

  for (const cls of ['throttled', 'internal', 'gateway', 'reset', 'denied']) {
    it(`query answered ${cls}: same error from both`, async () => {
      const shapes: unknown[] = [];
      for (const [, make] of models) {
        const w = world();
        const r = await run(w.sched, async (actor) => {
          const model = make(w.sched, actor, w.fake);
          const { taskId } = await model.createTask(input);
          w.faults.force('query', cls);
          return model.getTask(taskId);
        });
        shapes.push(shape(r));
      }
      expect(shapes[0]).toEqual(shapes[1]);
    });
  }

  it('documented statuses read the same through both; the direct model passes odd ones through raw', async () => {
    for (const [name, make] of models) {
      const w = world();
      const r = await run(w.sched, async (actor) => {
        const model = make(w.sched, actor, w.fake);
        const { taskId } = await model.createTask(input);
        const first = await model.getTask(taskId);
        w.faults.force('query', 'odd-succeeded');
        const odd = await model.getTask(taskId);
        return [first.status, odd.status];
      });
      expect(r.ok && r.value[0]).toBe('RUNNING');
      if (name === 'direct') expect(r.ok && r.value[1]).toBe('Succeeded');
    }
  });

  it('a create whose signal aborted before it arrived creates nothing; after, the reply is lost', async () => {
    for (const [, make] of models) {
      for (const abortWhen of ['before', 'after'] as const) {
        const w = world();
        const controller = new AbortController();
        let result: unknown;
        w.sched.spawn('submit', 'submit', async (actor) => {
          const model = make(w.sched, actor, w.fake);
          const create = model.createTask(input, { signal: controller.signal }).then(
            () => 'resolved',
            (e: unknown) => e,
          );
          await w.sched.sleep(actor, 1000);
          controller.abort();
          result = await create;
        });
        await w.sched.execute(w.sched.pickReady({ int: () => 0 })!); // start: the create and the sleep are pending
        const [create, sleep] = [...w.sched.ops].sort((a, b) => (a.port === 'model' ? -1 : b.port === 'model' ? 1 : 0));
        if (abortWhen === 'after') await w.sched.execute(create!, { kind: 'stall-after', ms: 5000 }); // arrived, reply slow
        w.sched.now += 1000;
        await w.sched.execute(sleep!); // the deadline passes: abort
        for (let op = w.sched.pickReady({ int: () => 0 }); op; op = w.sched.pickReady({ int: () => 0 })) await w.sched.execute(op);
        expect(result).toBeInstanceOf(TransportError);
        expect((result as TransportError).sent).toBe(true);
        expect(w.fake.creates.filter((c) => c.taskId)).toHaveLength(abortWhen === 'after' ? 1 : 0);
        if (abortWhen === 'after') expect(w.fake.creates[0]!.undelivered).toBe(true);
      }
    }
  });
});

describe('the in-memory bucket and table', () => {
  it('ETags are the content MD5; listings report whole seconds; missing keys read as undefined', () => {
    let now = Date.UTC(2025, 2, 10, 4, 0, 0, 750);
    const bucket = new MemoryBucket('explorer-bucket', () => now);
    const png = taggedPng('x');
    const a = bucket.write('sketches/a.png', png, 'image/png', {}, 'user');
    now += 5000;
    const b = bucket.write('sketches/b.png', Buffer.from(png), 'image/png', {}, 'user');
    expect(a.etag).toBe(b.etag);
    expect(a.etag).toMatch(/^[0-9A-F]{32}$/);
    expect(bucket.list('sketches/')[0]!.lastModified % 1000).toBe(0);
    expect(bucket.head('sketches/missing.png')).toBeUndefined();
    expect(bucket.getRange('sketches/missing.png', 0, 9)).toBeUndefined();
    expect(bucket.getRange('sketches/a.png', png.length + 5, png.length + 9)).toEqual(Buffer.alloc(0));
    expect(bucket.imageInfo('sketches/a.png')).toEqual({ width: 512, height: 512, format: 'png' });
    expect(() => bucket.imageInfo('sketches/missing.png')).toThrow(/does not exist/);
  });

  it('the tiny sketches pass the core\'s byte checks, and image/info reads their size', () => {
    const bucket = new MemoryBucket('explorer-bucket', () => 0);
    for (const [key, bytes] of [
      ['sketches/a.png', taggedPng('a', 512, 384)],
      ['sketches/b.jpg', taggedJpeg('b', 512, 384)],
    ] as const) {
      bucket.write(key, bytes, 'image/png', {}, 'user');
      expect(checkSketchBytes(key, bytes.length, bytes.subarray(0, 32), bytes.subarray(-16))).toBe(key.endsWith('png') ? 'png' : 'jpg');
      expect(bucket.imageInfo(key)).toEqual({ width: 512, height: 384, format: key.endsWith('png') ? 'png' : 'jpg' });
    }
  });

  it('rows: conditional writes as Tablestore answers them, values through JSON and frozen', () => {
    const table = new MemoryTable();
    expect(table.put('job', 'a', { x: 1, gone: undefined }, { absent: true })).toBe(1);
    expect(() => table.put('job', 'a', { x: 2 }, { absent: true })).toThrow(ConditionFailedError);
    expect(table.put('job', 'a', { x: 2 }, { rev: 1 })).toBe(2);
    expect(() => table.put('job', 'a', { x: 3 }, { rev: 1 })).toThrow(ConditionFailedError);
    // The adapter writes rev 1 for an unconditional put, whatever the row held.
    expect(table.put('job', 'a', { x: 4 }, 'any')).toBe(1);
    const row = table.get<{ x: number; gone?: number }>('job', 'a')!;
    expect(row.value).toEqual({ x: 4 });
    expect('gone' in table.get<object>('job', 'a')!.value).toBe(false);
    expect(() => {
      (row.value as { x: number }).x = 5;
    }).toThrow(TypeError);
    table.put('queue', 'b', 1, 'any');
    table.put('queue', 'a', 2, 'any');
    table.put('queue', 'c', 3, 'any');
    expect(table.scan('queue', { limit: 2 })).toEqual({ rows: [expect.objectContaining({ id: 'a' }), expect.objectContaining({ id: 'b' })], next: 'c' });
    expect(table.scan('queue', { from: 'c' }).next).toBeUndefined();
  });
});
