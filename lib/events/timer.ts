import * as z from 'zod';

/** The timer trigger event (fc.md §1.2). `payload` is the configured string, if any. */
export const TimerEventSchema = z.looseObject({
  triggerTime: z.string().min(1),
  triggerName: z.string().min(1),
  payload: z.string().optional(),
});

export type TimerEvent = z.infer<typeof TimerEventSchema>;
