import { OssEventSchema } from '../../lib/events/oss.js';
import { createLogger } from '../../lib/log.js';

const log = createLogger();

/** OSS trigger (placeholder until the pipeline lands): validates the event and logs it. */
export const handler = async (event: Buffer, context: { requestId?: string }): Promise<{ records: number }> => {
  const parsed = OssEventSchema.parse(JSON.parse(event.toString('utf8')));
  for (const record of parsed.events) {
    log.info('object created', { requestId: context.requestId, key: record.oss.object.key, eventName: record.eventName });
  }
  return { records: parsed.events.length };
};
