/**
 * `poller` — Function Compute 3.0 event handler for the timer trigger (and for kicks, which send
 * the same shape). Thin: parse the event, build dependencies once per instance, run the loop.
 */
import { TimerEventSchema } from '../../lib/events/timer.js';
import { createRuntime, type FcContext, type Runtime, type RuntimeOptions } from '../../lib/runtime.js';
import { pollBudgetMs, runPoller, type PollerReport } from '../../lib/core/poller.js';

export function createPollerHandler(options: RuntimeOptions = {}) {
  let runtime: Runtime | undefined;
  return async (event: Buffer | string, context: FcContext = {}): Promise<PollerReport | { rejected: string }> => {
    runtime ??= createRuntime(options);
    const log = runtime.log.child({ fn: 'poller', requestId: context.requestId });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(event) ? event.toString('utf8') : event);
    } catch {
      body = undefined;
    }
    const parsed = TimerEventSchema.safeParse(body);
    if (!parsed.success) {
      log.error('event is not a timer event; dropped');
      return { rejected: 'not a timer event' };
    }
    const deps = runtime.depsFor(context, 'poller');
    const report = await runPoller(deps, { budgetMs: pollBudgetMs(runtime.config.pollBudgetMs, context.function?.timeout) });
    deps.log[report.ran ? 'info' : 'debug']('poller done', { trigger: parsed.data.triggerName, ...report });
    return report;
  };
}

export const handler = createPollerHandler();
