/** A bucket held in memory (the default, and every bucket made with createBucket). */
import { compareKeys, recordFor, type BucketStore, type ObjectRecord, type WriteInfo } from './store.js';

export class MemoryStore implements BucketStore {
  private readonly objects = new Map<string, { record: ObjectRecord; body: Buffer }>();

  head(key: string): ObjectRecord | undefined {
    return this.objects.get(key)?.record;
  }

  read(key: string): { record: ObjectRecord; body: Buffer } | undefined {
    return this.objects.get(key);
  }

  write(key: string, body: Buffer, info: WriteInfo): { record: ObjectRecord; previous?: ObjectRecord } {
    const previous = this.objects.get(key)?.record;
    const record = recordFor(body, info);
    // Copy the bytes: callers may reuse their buffer.
    this.objects.set(key, { record, body: Buffer.from(body) });
    return { record, previous };
  }

  remove(key: string): ObjectRecord | undefined {
    const existing = this.objects.get(key);
    this.objects.delete(key);
    return existing?.record;
  }

  list(prefix: string): Array<{ key: string; record: ObjectRecord }> {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, { record }]) => ({ key, record }))
      .sort((a, b) => compareKeys(a.key, b.key));
  }

  close(): void {}
}
