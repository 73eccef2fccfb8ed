import { TimerEventSchema } from '../../lib/events/timer.js';
import { createLogger } from '../../lib/log.js';

const log = createLogger();

/** Timer trigger (placeholder until the pipeline lands). */
export const handler = async (event: Buffer, context: { requestId?: string }): Promise<{ ok: true }> => {
  const parsed = TimerEventSchema.parse(JSON.parse(event.toString('utf8')));
  log.info('tick', { requestId: context.requestId, triggerTime: parsed.triggerTime });
  return { ok: true };
};
