/**
 * Disk mode's "drop a file in the folder" trigger: a recursive fs.watch on the bucket directory.
 * A file is announced once it is stable (same size and mtime over `stableMs`), so half-copied
 * files are not; only when its content (ETag) differs from the last announced version, so the
 * emulator's own writes (already announced by the request) and `touch` are not new events.
 * The `.sketchflow/` state folder is ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR, diskKeyProblem } from './disk-keys.js';
import type { DiskStore } from './store-disk.js';
import type { ObjectRecord } from './store.js';

interface Pending {
  timer: NodeJS.Timeout;
  sample?: string;
}

export class DirWatcher {
  private watcher?: fs.FSWatcher;
  private readonly pending = new Map<string, Pending>();
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly store: DiskStore,
    private readonly onCreated: (key: string, record: ObjectRecord) => void,
    private readonly stableMs = 250,
  ) {}

  start(): void {
    this.watcher = fs.watch(this.root, { recursive: true, encoding: 'utf8' }, (_event, filename) => {
      if (filename === null) this.scan('');
      else this.touch(filename.split(path.sep).join('/'));
    });
    this.watcher.on('error', (err) => process.stderr.write(`oss emulator: watching ${this.root} failed: ${err.message}\n`));
  }

  private sampleOf(rel: string): string | undefined {
    try {
      const st = fs.statSync(path.join(this.root, rel));
      return st.isDirectory() ? 'dir' : `${st.size}:${st.mtimeMs}`;
    } catch {
      return undefined;
    }
  }

  /** Something happened at `rel`: (re)start its stability clock. */
  private touch(rel: string): void {
    if (this.closed || rel === '' || rel === STATE_DIR || rel.startsWith(`${STATE_DIR}/`)) return;
    const existing = this.pending.get(rel);
    if (existing) clearTimeout(existing.timer);
    const entry: Pending = { sample: this.sampleOf(rel), timer: setTimeout(() => this.check(rel), this.stableMs) };
    this.pending.set(rel, entry);
  }

  private check(rel: string): void {
    const entry = this.pending.get(rel);
    if (!entry || this.closed) return;
    const now = this.sampleOf(rel);
    if (now !== entry.sample) {
      // Still changing: wait another period.
      entry.sample = now;
      entry.timer = setTimeout(() => this.check(rel), this.stableMs);
      return;
    }
    this.pending.delete(rel);
    try {
      if (now === 'dir') this.scan(rel);
      else if (now !== undefined) this.announce(rel);
      else this.store.current(rel); // gone: drops its stale record
    } finally {
      if (this.pending.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** A folder appeared (e.g. `cp -r`): look at every file in it, in case events were missed. */
  private scan(rel: string): void {
    const walk = (dir: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(this.root, dir), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const child = dir ? `${dir}/${e.name}` : e.name;
        if (child === STATE_DIR) continue;
        if (e.isDirectory()) walk(child);
        else if (!this.pending.has(child)) this.touch(child);
      }
    };
    walk(rel);
  }

  private announce(key: string): void {
    if (diskKeyProblem(key)) return;
    const meta = this.store.current(key);
    if (!meta || meta.etag === meta.announcedEtag) return;
    this.store.markAnnounced(key, meta.etag);
    const { etag, crc64, objectType, size, contentType, userMeta, headers, lastModified } = meta;
    this.onCreated(key, { etag, crc64, objectType, size, contentType, userMeta, headers, lastModified });
  }

  /** Files seen changing that have not settled into an upload yet. */
  get settling(): number {
    return this.pending.size;
  }

  /** Resolves when no file is waiting to become stable. */
  settled(): Promise<void> {
    return this.pending.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
