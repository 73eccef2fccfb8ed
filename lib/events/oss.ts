import * as z from 'zod';

/**
 * The OSS trigger event as Function Compute 3.0 delivers it (a Buffer of this JSON).
 * Source: docs/reference/fc.md §1.1. Only what the pipeline reads is required — the bucket name and
 * the object key; everything else may drift (the docs and the fc3 templates already differ) and
 * passes through, so a renamed field of no use to us never drops an upload (issue 13 run 8).
 */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

export const OssEventRecordSchema = z.looseObject({
  eventName: optional(z.string()),
  eventSource: optional(z.string()),
  eventTime: optional(z.string()),
  region: optional(z.string()),
  oss: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({
      key: z.string().min(1),
      size: optional(z.number()),
      eTag: optional(z.string()),
    }),
  }),
});

export const OssEventSchema = z.object({
  events: z.array(OssEventRecordSchema).min(1),
});

export type OssEventRecord = z.infer<typeof OssEventRecordSchema>;
export type OssEvent = z.infer<typeof OssEventSchema>;

/** The event names a sketchflow trigger subscribes to (never `ObjectCreated:*`). */
export const CREATED_EVENT_NAMES = [
  'ObjectCreated:PutObject',
  'ObjectCreated:PostObject',
  'ObjectCreated:CompleteMultipartUpload',
] as const;

/**
 * Whether `object.key` arrives percent-encoded is undocumented (fc.md §1.1), so the submit
 * function tries the key as given first, then decoded forms. Order matters: raw first.
 */
export function candidateObjectKeys(rawKey: string): string[] {
  const keys = [rawKey];
  for (const form of [rawKey, rawKey.replace(/\+/g, ' ')]) {
    try {
      const decoded = decodeURIComponent(form);
      if (!keys.includes(decoded)) keys.push(decoded);
    } catch {
      // a literal '%' that is not an escape: the raw key is the only reading
    }
  }
  return keys;
}
