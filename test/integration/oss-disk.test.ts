/**
 * OSS emulator conformance, disk mode: objects are plain files under the directory, metadata
 * survives a restart under .sketchflow/ (never listed), and with `watch` a file dropped in the
 * folder becomes exactly one ObjectCreated event once it is completely written.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OssEventSchema, type OssEventRecord } from '../../lib/events/oss.js';
import { startOssEmulator, type OssEmulator } from '../../lib/local/oss/index.js';
import { headersOf, meta, ossClient, ossError, waitFor } from './oss-client.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex').toUpperCase();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'oss-disk-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('disk mode', () => {
  let dir: string;
  let emu: OssEmulator;
  beforeEach(async () => {
    dir = tmpDir();
    emu = await startOssEmulator({ dir });
  });
  afterEach(async () => {
    await emu.close();
  });

  it('stores each object as the plain file at its key', async () => {
    const c = ossClient(emu);
    await c.put('sketches/deep/cat 猫.png', Buffer.from('png bytes'), { meta: meta({ prompt: 'cat' }) });
    expect(fs.readFileSync(path.join(dir, 'sketches/deep/cat 猫.png'), 'utf8')).toBe('png bytes');
    expect(fs.readdirSync(path.join(dir, '.sketchflow/oss-meta')).length).toBe(1);

    // A file put there by hand is an object too, typed by its extension.
    fs.mkdirSync(path.join(dir, 'sketches/hand'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sketches/hand/dog.jpg'), 'jpeg');
    const got = await c.get('sketches/hand/dog.jpg');
    expect(got.content.toString()).toBe('jpeg');
    expect(headersOf(got).etag).toBe(`"${md5('jpeg')}"`);
    expect(headersOf(got)['content-type']).toBe('image/jpeg');

    // Edited behind the emulator's back: the new content and ETag are served.
    fs.writeFileSync(path.join(dir, 'sketches/hand/dog.jpg'), 'jpeg, edited');
    expect(headersOf(await c.head('sketches/hand/dog.jpg'))).toMatchObject({ etag: `"${md5('jpeg, edited')}"` });
  });

  it('never lists or serves the .sketchflow state folder', async () => {
    const c = ossClient(emu);
    await c.put('a.txt', Buffer.from('a'));
    fs.writeFileSync(path.join(dir, '.sketchflow', 'tablestore.json'), '{}');
    const all = await c.listV2({ 'max-keys': '1000' }, {});
    expect(all.objects.map((o) => o.name)).toEqual(['a.txt']);
    expect(all.prefixes).toBeNull();
    expect(emu.keys()).toEqual(['a.txt']);
    expect(await ossError(c.get('.sketchflow/tablestore.json'))).toMatchObject({ code: 'NoSuchKey' });
    expect(await ossError(c.put('.sketchflow/evil.json', Buffer.from('x')))).toMatchObject({ code: 'InvalidObjectName', status: 400 });
  });

  it('keeps folder markers as folders, prunes emptied folders, refuses unstorable keys clearly', async () => {
    const c = ossClient(emu);
    await c.put('folder/', Buffer.alloc(0));
    expect(fs.statSync(path.join(dir, 'folder')).isDirectory()).toBe(true);
    expect((await c.listV2({ prefix: 'folder/' }, {})).objects.map((o) => o.name)).toEqual(['folder/']);

    await c.put('implicit/sub/x.txt', Buffer.from('x'));
    await c.delete('implicit/sub/x.txt');
    expect(fs.existsSync(path.join(dir, 'implicit'))).toBe(false);

    await c.put('conflict', Buffer.from('file'));
    const clash = await ossError(c.put('conflict/child.txt', Buffer.from('x')));
    expect(clash).toMatchObject({ code: 'InvalidObjectName', status: 400 });
    expect(clash.message).toContain('disk mode');
    expect(await ossError(c.put('empty//segment.txt', Buffer.from('x')))).toMatchObject({ code: 'InvalidObjectName', status: 400 });
    expect(await ossError(c.put('folder2/', Buffer.from('not empty')))).toMatchObject({ code: 'InvalidObjectName', status: 400 });
  });

  it('keeps content type, metadata and ETag across a restart', async () => {
    const c = ossClient(emu);
    await c.put('keep/a.bin', Buffer.from('abc'), { mime: 'text/x-custom', meta: meta({ owner: 'alice' }) });
    const before = emu.peek('keep/a.bin')!;
    await emu.close();
    emu = await startOssEmulator({ dir });
    const head = await ossClient(emu).head('keep/a.bin');
    expect(head.meta).toEqual({ owner: 'alice' });
    expect(headersOf(head)).toMatchObject({ 'content-type': 'text/x-custom', etag: before.etag });
    expect(emu.peek('keep/a.bin')?.lastModified).toBe(before.lastModified);
  });
});

describe('disk mode with watch', () => {
  let dir: string;
  let emu: OssEmulator;
  let events: OssEventRecord[];
  /** Long enough for fs.watch to report and the file to be judged stable (stableMs 100). */
  const quiet = async () => {
    await sleep(400);
    await emu.settled();
  };

  beforeEach(async () => {
    dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'sketches'));
    fs.writeFileSync(path.join(dir, 'sketches', 'already-there.png'), 'old');
    emu = await startOssEmulator({ dir, watch: true, watchStableMs: 100 });
    events = [];
    emu.onObjectCreated({}, (e) => events.push(...OssEventSchema.parse(e).events));
  });
  afterEach(async () => {
    await emu.close();
  });

  it('announces a file copied in once, when it is complete', async () => {
    const fd = fs.openSync(path.join(dir, 'sketches', 'new.png'), 'w');
    fs.writeSync(fd, Buffer.alloc(50_000, 1));
    await sleep(40); // a copy in progress: not yet stable
    fs.writeSync(fd, Buffer.alloc(50_000, 2));
    fs.closeSync(fd);
    const e = await waitFor(() => events[0], 5000, 'watch event');
    await quiet();
    expect(events).toHaveLength(1);
    const full = fs.readFileSync(path.join(dir, 'sketches', 'new.png'));
    expect(e).toMatchObject({ eventName: 'ObjectCreated:PutObject', oss: { object: { key: 'sketches/new.png', size: 100_000, eTag: md5(full) } } });
  });

  it("announces the emulator's own put once, not twice", async () => {
    await ossClient(emu).put('sketches/by-api.png', Buffer.from('api'));
    await waitFor(() => events[0], 5000, 'put event');
    await quiet();
    expect(events.map((e) => e.oss.object.key)).toEqual(['sketches/by-api.png']);
  });

  it('ignores unchanged content, files present at startup and .sketchflow/; sees changes and new folders', async () => {
    const file = path.join(dir, 'sketches', 'already-there.png');
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(file, t, t); // touched, same content
    fs.writeFileSync(path.join(dir, '.sketchflow', 'state.json'), '{"x":1}');
    await quiet();
    expect(events).toEqual([]);

    fs.writeFileSync(file, 'new content');
    fs.mkdirSync(path.join(dir, 'sketches', 'new-folder', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sketches', 'new-folder', 'deeper', 'b.png'), 'b');
    await waitFor(() => (events.length >= 2 ? events : undefined), 5000, 'two events');
    await quiet();
    expect(events.map((e) => e.oss.object.key).sort()).toEqual(['sketches/already-there.png', 'sketches/new-folder/deeper/b.png']);
  });
});
