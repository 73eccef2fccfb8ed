/**
 * `submit` — Function Compute 3.0 event handler for the OSS trigger (SPEC §4 "Submit function").
 * Thin: parse the event, build dependencies once per instance, call the core, log.
 * Returns normally for every handled outcome; throws only for infrastructure faults, so that
 * Function Compute retries the event.
 */
import { OssEventSchema } from '../../lib/events/oss.js';
import { createRuntime, type FcContext, type Runtime, type RuntimeOptions } from '../../lib/runtime.js';
import { onObjectCreated, type SubmitOutcome } from '../../lib/core/submit.js';

export interface SubmitResult {
  outcomes: SubmitOutcome[];
  rejected?: string;
}

export function createSubmitHandler(options: RuntimeOptions = {}) {
  let runtime: Runtime | undefined;
  return async (event: Buffer | string, context: FcContext = {}): Promise<SubmitResult> => {
    runtime ??= createRuntime(options); // a ConfigError here names every bad setting
    const log = runtime.log.child({ fn: 'submit', requestId: context.requestId });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(event) ? event.toString('utf8') : event);
    } catch {
      log.error('event is not JSON; dropped', { bytes: Buffer.byteLength(event) });
      return { outcomes: [], rejected: 'not JSON' };
    }
    const parsed = OssEventSchema.safeParse(body);
    if (!parsed.success) {
      // Retrying a malformed event cannot help: log it once, clearly, and finish.
      const problem = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      log.error('event is not an OSS trigger event; dropped', { problem });
      return { outcomes: [], rejected: problem };
    }
    const deps = runtime.depsFor(context, 'submit');
    const outcomes: SubmitOutcome[] = [];
    for (const record of parsed.data.events) {
      const outcome = await onObjectCreated(deps, record);
      outcomes.push(outcome);
      const level = outcome.action === 'skipped' ? 'debug' : outcome.action === 'refused' ? 'warn' : 'info';
      deps.log[level](outcome.action === 'refused' ? 'object refused' : 'object handled', { ...outcome });
    }
    return { outcomes };
  };
}

export const handler = createSubmitHandler();
