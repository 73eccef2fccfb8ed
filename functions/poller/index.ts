/**
 * `poller` — Function Compute 3.0 event handler for three triggers: the timer, the kicks (which
 * send the timer's shape), and the EventBridge trigger that brings DashScope's completion events
 * (lib/events/dashscope.ts: one CloudEvent, a batch, or their bare `data`). Thin: parse the event,
 * build dependencies once per instance, run the loop or follow the finished tasks.
 */
import { asError } from '../../lib/errors.js';
import { parseTaskEvents } from '../../lib/events/dashscope.js';
import { TimerEventSchema } from '../../lib/events/timer.js';
import { createRuntime, type FcContext, type Runtime, type RuntimeOptions } from '../../lib/runtime.js';
import { pollBudgetMs, runPoller, type PollerReport } from '../../lib/core/poller.js';
import { onTaskFinished, type TaskEventReport } from '../../lib/core/task-events.js';

export type PollerResult = PollerReport | (TaskEventReport & { ignored: string[] }) | { rejected: string };

export function createPollerHandler(options: RuntimeOptions = {}) {
  let runtime: Runtime | undefined;
  return async (event: Buffer | string, context: FcContext = {}): Promise<PollerResult> => {
    runtime ??= createRuntime(options);
    const log = runtime.log.child({ fn: 'poller', requestId: context.requestId });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(event) ? event.toString('utf8') : event);
    } catch {
      body = undefined;
    }
    const timer = TimerEventSchema.safeParse(body);
    if (timer.success) {
      const deps = runtime.depsFor(context, 'poller');
      // The timer sweeps the active jobs and the bucket; kicks (rests, submits, events) do not.
      const sweep = timer.data.triggerName !== 'kick';
      const report = await runPoller(deps, { budgetMs: pollBudgetMs(runtime.config.pollBudgetMs, context.function?.timeout), sweep });
      deps.log[report.ran ? 'info' : 'debug']('poller done', { trigger: timer.data.triggerName, reason: timer.data.payload, ...report });
      return report;
    }
    const tasks = parseTaskEvents(body, runtime.config.models);
    if (!tasks) {
      log.error('event is neither a timer event nor a DashScope completion event; dropped');
      return { rejected: 'not a timer or completion event' };
    }
    if (tasks.ignored.length > 0) log.debug('completion events not ours; ignored', { ignored: tasks.ignored });
    const deps = runtime.depsFor(context, 'poller');
    try {
      const report = await onTaskFinished(deps, tasks.events);
      deps.log[report.followed.length > 0 ? 'info' : 'debug']('completion events done', { ...report, ignored: tasks.ignored.length });
      return { ...report, ignored: tasks.ignored };
    } catch (err) {
      // FC would not retry it (the poller has no async retries): an event that could not be
      // handled is a lost one, which the rest's safety kick or the timer makes up for.
      deps.log.warn('completion events not handled; the next poller pass follows their tasks', { taskIds: tasks.events.map((e) => e.taskId), error: asError(err) });
      return { rejected: `not handled: ${asError(err).message}` };
    }
  };
}

export const handler = createPollerHandler();
