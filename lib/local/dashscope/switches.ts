/**
 * Switches for behaviour no public source confirms (README "Switches for unconfirmed behaviour").
 * Each has the value we think likeliest as its default and every other plausible value, so a test
 * can run the pipeline under each and a guess cannot hide a bug. Set at start
 * (`options.unconfirmed`) or at run time (fault `{type: 'switches', set: {...}}`); clearFaults()
 * goes back to the start values.
 */
import { z } from 'zod';

export const switchesSchema = z.object({
  /** Largest `page_size` the list API takes (the docs give only the default, 10). */
  listPageSizeMax: z.int().min(1).default(100),
  /** A larger `page_size`: 400 InvalidParameter, or silently cut to the cap. */
  listPageSizeOver: z.enum(['error', 'clamp']).default('error'),
  /** `page_no` 1 = first page (SDK default 1), or 0 = first page. */
  listPaging: z.enum(['one-based', 'zero-based']).default('one-based'),
  /** Whether the reply carries `total` and `total_page` (the docs' example does). */
  listTotal: z.enum(['present', 'absent']).default('present'),
  /** Which time `start_time`/`end_time` filter on: submission (`gmt_create`), start, or end. */
  listWindowField: z.enum(['submit', 'start', 'end']).default('submit'),
  /** A window longer than this (hours) answers 400 (the docs say at most 24 h); null = no limit. Default 24 (documented); the adapter sends no window. */
  listWindowMaxHours: z.number().positive().nullable().default(24),
  listOrder: z.enum(['newest-first', 'oldest-first']).default('newest-first'),
  /** `gmt_create`/`start_time`/`end_time` as epoch ms (the docs' example) or Beijing strings. */
  listTimes: z.enum(['epoch-ms', 'beijing']).default('epoch-ms'),
  /** Cancel success: `{request_id}` (the docs' example) or with `output.task_status: CANCELED` (what the SDK sample prints). */
  cancelReply: z.enum(['request-id', 'with-output']).default('request-id'),
  /** Cancel of a task that is no longer PENDING. */
  cancelNotPending: z.enum(['unsupported-operation', 'invalid-parameter', 'ok-noop']).default('unsupported-operation'),
  /** Cancel of an id the service does not know (expired, never created, another account's). */
  cancelUnknown: z.enum(['unsupported-operation', 'not-found', 'unknown-ok']).default('unsupported-operation'),
  /** An image2image model sent to `/services/aigc/text2image/image-synthesis`. */
  text2image: z.enum(['url-error', 'model-not-exist', 'not-found', 'accept']).default('url-error'),
});

/** A change to some switches: the same fields, all optional and without defaults (a change leaves the others alone). */
export const switchChangesSchema = z.object(
  Object.fromEntries(Object.entries(switchesSchema.shape).map(([k, v]) => [k, v.unwrap().optional()])) as {
    [K in keyof typeof switchesSchema.shape]: z.ZodOptional<ReturnType<(typeof switchesSchema.shape)[K]['unwrap']>>;
  },
);

export type Switches = z.output<typeof switchesSchema>;
export type SwitchesInput = z.input<typeof switchesSchema>;

/** The live switch values: the start values, overridden at run time until reset(). */
export class SwitchBoard {
  private readonly start: Switches;
  private current: Switches;

  constructor(input: SwitchesInput = {}) {
    this.start = switchesSchema.parse(input);
    this.current = { ...this.start };
  }

  get(): Readonly<Switches> {
    return this.current;
  }

  set(changes: Partial<Switches>): void {
    this.current = switchesSchema.parse({ ...this.current, ...changes });
  }

  reset(): void {
    this.current = { ...this.start };
  }
}
