/**
 * The manifest `<stem>.result.json` (SPEC §5): written last, its presence means the job finished.
 * The schema is what readers (the CLI, tests, users' systems) can rely on.
 */
import * as z from 'zod';

export const MANIFEST_STATUSES = ['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELED'] as const;
export type ManifestStatus = (typeof MANIFEST_STATUSES)[number];

const ErrorInfo = z.object({ code: z.string(), message: z.string() });

export const ManifestSchema = z.object({
  status: z.enum(MANIFEST_STATUSES),
  source: z.object({
    key: z.string(),
    etag: z.string(),
    /** Which upload of those bytes (identical bytes uploaded again are a new version, SPEC §1). */
    lastModified: z.string().optional(),
    sidecar: z.object({ key: z.string(), etag: z.string(), lastModified: z.string().optional() }).optional(),
  }),
  request: z
    .object({
      model: z.string(),
      prompt: z.string(),
      parameters: z.record(z.string(), z.unknown()),
      normalized: z.boolean(),
    })
    .optional(),
  task: z
    .object({
      id: z.string().optional(),
      attempts: z.number().int().nonnegative(),
      submittedAt: z.string().optional(),
      startedAt: z.string().optional(),
      endedAt: z.string().optional(),
    })
    .optional(),
  results: z.array(
    z.object({
      index: z.number().int().positive(),
      key: z.string().optional(),
      bytes: z.number().int().nonnegative().optional(),
      error: ErrorInfo.optional(),
    }),
  ),
  usage: z.object({ imageCount: z.number().int().nonnegative() }),
  warnings: z.array(z.string()),
  error: ErrorInfo.optional(),
  finishedAt: z.string(),
  pipelineVersion: z.string(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestResult = Manifest['results'][number];
