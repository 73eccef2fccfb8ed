import * as z from 'zod';

/**
 * The OSS trigger event as Function Compute 3.0 delivers it (a Buffer of this JSON).
 * Source: docs/reference/fc.md §1.1. Optional fields differ between the current docs and the
 * fc3 event templates, so only what the pipeline reads is required; unknown fields pass through.
 */
export const OssEventRecordSchema = z.looseObject({
  eventName: z.string().min(1),
  eventSource: z.literal('acs:oss'),
  eventTime: z.string().min(1),
  eventVersion: z.string().optional(),
  region: z.string().min(1),
  oss: z.looseObject({
    bucket: z.looseObject({
      name: z.string().min(1),
      arn: z.string().min(1),
      ownerIdentity: z.string().optional(),
      virtualBucket: z.string().optional(),
    }),
    object: z.looseObject({
      key: z.string().min(1),
      size: z.number().int().nonnegative(),
      eTag: z.string().min(1),
      deltaSize: z.number().int().optional(),
      objectMeta: z
        .looseObject({
          mimeType: z.string().optional(),
          userMeta: z.record(z.string(), z.string()).optional(),
        })
        .optional(),
    }),
    ossSchemaVersion: z.string().optional(),
    ruleId: z.string().optional(),
  }),
  requestParameters: z.looseObject({ sourceIPAddress: z.string().optional() }).optional(),
  responseElements: z.looseObject({ requestId: z.string().optional() }).optional(),
  userIdentity: z.looseObject({ principalId: z.string().optional() }).optional(),
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
