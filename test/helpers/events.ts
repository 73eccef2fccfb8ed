/**
 * Trigger events for tests that invoke the functions directly: the OSS event body is the one the
 * OSS emulator delivers (lib/local/oss/triggers.ts builds both), for an object that need not exist.
 * Timer events: `timerEvent` in lib/local/fc.ts.
 */
import { mimeTypeFor } from '../../lib/local/oss/mime.js';
import { buildEvent } from '../../lib/local/oss/triggers.js';

export interface OssEventOptions {
  /** Default 10. */
  size?: number;
  /** As OSS writes it in events: uppercase hex, no quotes. Default 'E'. */
  eTag?: string;
  /** Default 'ObjectCreated:PutObject'. */
  eventName?: string;
}

/** The OSS trigger event FC hands the submit function for `key` in `bucket`, as the Buffer it delivers. */
export function ossEvent(bucket: string, key: string, { size = 10, eTag = 'E', eventName = 'ObjectCreated:PutObject' }: OssEventOptions = {}): Buffer {
  const now = Date.now();
  const record = { etag: eTag, size, contentType: mimeTypeFor(key), userMeta: {}, headers: {}, lastModified: now };
  const context = { region: 'cn-beijing', accountId: '1234567890123456', now: () => now, keyStyle: 'raw' as const, delayMs: 0 };
  const event = buildEvent({ eventName, bucket, key, record, requestId: 'test-request', sourceIp: '127.0.0.1' }, context, 'test-rule');
  return Buffer.from(JSON.stringify(event));
}
