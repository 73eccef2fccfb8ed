/**
 * A bucket that is a directory: each object is the plain file at its key, so a person can look at
 * (and drop files into) the bucket. What a file cannot carry — content type, user metadata, ETag,
 * Last-Modified as OSS reported it — is kept in `<dir>/.sketchflow/oss-meta/<sha256(key)>.json`.
 * Files changed behind the emulator's back are noticed by size/mtime and re-hashed.
 * Writes go to `.sketchflow/tmp` and are renamed into place, so no reader sees half a file.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { E } from './errors.js';
import { STATE_DIR, diskKeyProblem, isFolderKey, keyToPath, pathToKey } from './disk-keys.js';
import { crc64 } from './crc64.js';
import { compareKeys, md5Hex, recordFor, type BucketStore, type ObjectRecord, type WriteInfo } from './store.js';
import { mimeTypeFor } from './mime.js';

interface DiskMeta extends ObjectRecord {
  key: string;
  /** File size and mtime when the record was made; a mismatch means the file changed outside. */
  fileSize: number;
  mtimeMs: number;
  /** The ETag last announced as an ObjectCreated event (or known at startup): the watcher's baseline. */
  announcedEtag: string;
}

export class DiskStore implements BucketStore {
  private readonly index = new Map<string, DiskMeta>();
  private readonly metaDir: string;
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.metaDir = path.join(root, STATE_DIR, 'oss-meta');
    this.tmpDir = path.join(root, STATE_DIR, 'tmp');
    fs.mkdirSync(this.metaDir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
    for (const name of fs.readdirSync(this.metaDir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const meta = JSON.parse(fs.readFileSync(path.join(this.metaDir, name), 'utf8')) as DiskMeta;
        if (typeof meta.key === 'string') this.index.set(meta.key, meta);
      } catch {
        // A torn or foreign file: the object's file is re-hashed when next seen.
      }
    }
    // Whatever is there at startup is the baseline: no events for it, and stale records go.
    for (const { key } of this.list('')) {
      const meta = this.index.get(key);
      if (meta && meta.announcedEtag !== meta.etag) this.saveMeta({ ...meta, announcedEtag: meta.etag });
    }
    for (const key of [...this.index.keys()]) if (!this.current(key)) this.dropMeta(key);
  }

  private metaPath(key: string): string {
    return path.join(this.metaDir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  private saveMeta(meta: DiskMeta): void {
    this.index.set(meta.key, meta);
    const file = this.metaPath(meta.key);
    const tmp = path.join(this.tmpDir, `meta-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(tmp, JSON.stringify(meta));
    fs.renameSync(tmp, file);
  }

  private dropMeta(key: string): void {
    this.index.delete(key);
    fs.rmSync(this.metaPath(key), { force: true });
  }

  private stat(file: string): fs.Stats | undefined {
    try {
      return fs.statSync(file);
    } catch {
      return undefined;
    }
  }

  /**
   * The object's record as the file is now: re-hashed when the file changed outside the emulator
   * (then user metadata is dropped and the type comes from the extension, as for a fresh upload).
   */
  current(key: string): DiskMeta | undefined {
    if (diskKeyProblem(key)) return undefined;
    const file = keyToPath(this.root, key);
    const st = this.stat(file);
    const meta = this.index.get(key);
    if (isFolderKey(key)) return st?.isDirectory() && meta ? meta : undefined;
    if (!st?.isFile()) {
      if (meta) this.dropMeta(key);
      return undefined;
    }
    const unchanged = meta !== undefined && meta.fileSize === st.size && meta.mtimeMs === st.mtimeMs;
    // Records written before CRC-64 was kept get it added; nothing else about them changes.
    if (unchanged && meta.crc64 !== undefined) return meta;
    let body: Buffer;
    try {
      body = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    if (unchanged) {
      const upgraded: DiskMeta = { ...meta, crc64: crc64(body), objectType: meta.objectType ?? 'Normal' };
      this.saveMeta(upgraded);
      return upgraded;
    }
    const etag = md5Hex(body);
    const fresh: DiskMeta =
      meta && meta.etag === etag
        ? { ...meta, crc64: meta.crc64 ?? crc64(body), objectType: meta.objectType ?? 'Normal', fileSize: st.size, mtimeMs: st.mtimeMs }
        : {
            key,
            etag,
            crc64: crc64(body),
            objectType: 'Normal',
            size: body.length,
            contentType: mimeTypeFor(key),
            userMeta: {},
            headers: {},
            lastModified: Math.floor(st.mtimeMs),
            fileSize: st.size,
            mtimeMs: st.mtimeMs,
            // Unknown before: a file found now (not at startup) is new, so it has not been announced.
            announcedEtag: meta?.announcedEtag ?? '',
          };
    this.saveMeta(fresh);
    return fresh;
  }

  /** The watcher's bookkeeping: this version has been announced. */
  markAnnounced(key: string, etag: string): void {
    const meta = this.index.get(key);
    if (meta && meta.announcedEtag !== etag) this.saveMeta({ ...meta, announcedEtag: etag });
  }

  head(key: string): ObjectRecord | undefined {
    return strip(this.current(key));
  }

  read(key: string): { record: ObjectRecord; body: Buffer } | undefined {
    const meta = this.current(key);
    if (!meta) return undefined;
    if (isFolderKey(key)) return { record: strip(meta)!, body: Buffer.alloc(0) };
    try {
      const body = fs.readFileSync(keyToPath(this.root, key));
      if (body.length === meta.size) return { record: strip(meta)!, body };
    } catch {
      return undefined;
    }
    // Changed between stat and read: take the new version.
    const again = this.current(key);
    return again ? { record: strip(again)!, body: fs.readFileSync(keyToPath(this.root, key)) } : undefined;
  }

  write(key: string, body: Buffer, info: WriteInfo): { record: ObjectRecord; previous?: ObjectRecord } {
    const problem = diskKeyProblem(key);
    if (problem) throw unstorable(key, problem);
    const target = keyToPath(this.root, key);
    const previous = strip(this.current(key));
    // Every ancestor must be a directory (or not exist yet).
    for (let dir = path.dirname(target); dir.length > this.root.length; dir = path.dirname(dir)) {
      const st = this.stat(dir);
      if (st && !st.isDirectory()) throw unstorable(key, `'${pathToKey(this.root, dir)}' is a file, so it cannot also be a folder`);
    }
    const record = recordFor(body, info);
    if (isFolderKey(key)) {
      if (body.length > 0) throw unstorable(key, 'a folder marker (key ending in "/") must be empty');
      const st = this.stat(target);
      if (st && !st.isDirectory()) throw unstorable(key, `'${key.slice(0, -1)}' is a file, so it cannot also be a folder`);
      fs.mkdirSync(target, { recursive: true });
      const meta: DiskMeta = { key, ...record, fileSize: 0, mtimeMs: 0, announcedEtag: record.etag };
      this.saveMeta(meta);
      return { record: strip(meta)!, previous };
    }
    const st = this.stat(target);
    if (st?.isDirectory()) throw unstorable(key, `'${key}' is a folder on disk, so it cannot also be a file`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(this.tmpDir, `obj-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, target);
    const after = fs.statSync(target);
    // The emulator announces its own writes itself, so the watcher's baseline is this version.
    const meta: DiskMeta = { key, ...record, fileSize: after.size, mtimeMs: after.mtimeMs, announcedEtag: record.etag };
    this.saveMeta(meta);
    return { record: strip(meta)!, previous };
  }

  remove(key: string): ObjectRecord | undefined {
    const existing = this.current(key);
    if (!existing) return undefined;
    const target = keyToPath(this.root, key);
    if (isFolderKey(key)) {
      // The folder stays while it holds files: only the marker object goes.
      if (fs.readdirSync(target).length === 0) fs.rmdirSync(target);
    } else {
      fs.rmSync(target, { force: true });
    }
    this.dropMeta(key);
    this.pruneEmptyParents(path.dirname(target));
    return strip(existing);
  }

  /** OSS has no folders: once the last object under an implicit folder goes, so does the folder. */
  private pruneEmptyParents(dir: string): void {
    while (dir.length > this.root.length && dir.startsWith(this.root)) {
      if (this.index.has(pathToKey(this.root, dir, true))) return;
      try {
        if (fs.readdirSync(dir).length > 0) return;
        fs.rmdirSync(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  list(prefix: string): Array<{ key: string; record: ObjectRecord }> {
    const out: Array<{ key: string; record: ObjectRecord }> = [];
    // Start at the deepest folder the prefix names, not at the root.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    const start = folder && !diskKeyProblem(folder) ? keyToPath(this.root, folder) : this.root;
    const walk = (dir: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (dir === this.root && entry.name === STATE_DIR) continue;
        if (entry.isDirectory()) {
          const folderKey = pathToKey(this.root, full, true);
          if (!folderKey.startsWith(prefix) && !prefix.startsWith(folderKey)) continue;
          const meta = this.index.get(folderKey);
          if (meta && folderKey.startsWith(prefix)) out.push({ key: folderKey, record: strip(meta)! });
          walk(full);
        } else if (entry.isFile() || entry.isSymbolicLink()) {
          const key = pathToKey(this.root, full);
          if (!key.startsWith(prefix)) continue;
          const meta = this.current(key);
          if (meta) out.push({ key, record: strip(meta)! });
        }
      }
    };
    // The walk visits what is inside `start`; the folder marker of `start` itself is checked here.
    const startMarker = folder && start !== this.root ? this.current(folder) : undefined;
    if (startMarker && folder.startsWith(prefix)) out.push({ key: folder, record: strip(startMarker)! });
    walk(start);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Every write is already on disk (write-through); nothing is buffered. */
  close(): void {}
}

function strip(meta: DiskMeta | undefined): ObjectRecord | undefined {
  if (!meta) return undefined;
  const { etag, crc64: crc, objectType, size, contentType, userMeta, headers, lastModified } = meta;
  return { etag, crc64: crc, objectType, size, contentType, userMeta, headers, lastModified };
}

function unstorable(key: string, reason: string) {
  return E.invalidObjectName(`The object key '${key}' cannot be stored by the sketchflow OSS emulator in disk mode: ${reason}.`);
}
