/**
 * The whole pipeline on one machine: the loopback stand-ins, and the real `submit` and `poller`
 * handlers run by LocalFunctionCompute exactly as Function Compute would run them (Buffer events,
 * STS credentials in the context, async retries, the timer, the FC API for kicks, and the
 * EventBridge trigger that brings the simulator's completion events to the poller). This powers
 * `sketchflow local` and every end-to-end test.
 */
import { createSubmitHandler } from '../../functions/submit/index.js';
import { createPollerHandler } from '../../functions/poller/index.js';
import { loadConfig, type Config } from '../config.js';
import type { LogSink } from '../log.js';
import type { Checkpoint } from '../core/deps.js';
import type { PortDecorators } from '../runtime.js';
import { ensureTable } from '../adapters/tablestore.js';
import { matchesEventRule } from '../events/dashscope.js';
import { LocalFunctionCompute, type EventBridgeTriggerOptions, type FcHandler } from './fc.js';
import type { TaskFinishEvent } from './dashscope/index.js';
import { settingsFor, startLocalStack, type LocalStack, type LocalStackOptions } from './stack.js';

export const SUBMIT_FUNCTION = 'sketchflow-submit';
export const POLLER_FUNCTION = 'sketchflow-poller';

export interface LocalPipelineOptions extends LocalStackOptions {
  /** SPEC §6 settings (the endpoints and keys of the stand-ins are filled in over them). */
  env?: Record<string, string | undefined>;
  /** Real ms between timer firings (FC: one minute). */
  timerEveryMs?: number;
  /** Start the timer (default true). */
  timer?: boolean;
  /** Async retry delays (FC backs off for seconds; tests shrink it). */
  retryDelayMs?: (attempt: number) => number;
  /** Function timeouts in seconds (s.yaml `timeout`). */
  submitTimeout?: number;
  pollerTimeout?: number;
  logSink?: LogSink;
  checkpoint?: Checkpoint;
  decorate?: PortDecorators;
  /** Use the real DashScope instead of the simulator. */
  realDashScope?: { apiKey: string; baseUrl?: string };
  /** Load handlers from built bundles instead of the sources (deploy conformance). */
  handlers?: { submit: FcHandler; poller: FcHandler };
  onDropped?: (fn: string, event: Buffer, lastError: string) => void;
  /** How deferred invocations wait (a virtual clock in the benchmark). */
  deferredSleep?: (ms: number) => Promise<void>;
  /**
   * DashScope's completion events to the poller through an EventBridge trigger, in this shape
   * (default: one CloudEvent per invocation). `false`: no trigger (TASK_EVENTS defaults to off).
   */
  events?: false | EventBridgeTriggerOptions;
}

export interface LocalPipeline {
  stack: LocalStack;
  fc: LocalFunctionCompute;
  env: Record<string, string>;
  config: Config;
  /** Resolves when no trigger delivery is queued and no invocation is queued or running. */
  idle(): Promise<void>;
  /** The same, except for deferred invocations waiting out their delay (a resting poller's safety kick). */
  quiet(): Promise<void>;
  close(): Promise<void>;
}

/** Async retries as s.yaml deploys them (a test compares): a failed poller is not retried, the next timer or kick runs. */
export const ASYNC_RETRIES = {
  submit: { maxAsyncRetryAttempts: 3 },
  poller: { maxAsyncRetryAttempts: 0 },
} as const;

export async function startLocalPipeline(options: LocalPipelineOptions = {}): Promise<LocalPipeline> {
  const events = options.realDashScope ? false : (options.events ?? { shape: 'cloudevent' as const });
  // The simulator starts before the FC runner that its events go to: bound once both exist.
  let pushEvent: ((event: TaskFinishEvent) => void) | undefined;
  const userEvents = options.dashscope?.events;
  const stack = await startLocalStack({
    ...options,
    dashscope: {
      ...options.dashscope,
      events: {
        ...userEvents,
        onEvent: async (event) => {
          await userEvents?.onEvent?.(event);
          pushEvent?.(event);
        },
      },
    },
  });
  const fc = new LocalFunctionCompute({ credentials: stack.credentials, retryDelayMs: options.retryDelayMs, onDropped: options.onDropped, deferredSleep: options.deferredSleep });
  try {
    const fcEndpoint = await fc.serveApi();
    const described = stack.describe();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
    // Without the trigger nothing would wake a resting poller: it polls.
    if (!events) env.TASK_EVENTS ??= 'off';
    Object.assign(env, settingsFor(described), {
      ...(options.realDashScope
        ? { DASHSCOPE_API_KEY: options.realDashScope.apiKey, DASHSCOPE_BASE_URL: options.realDashScope.baseUrl ?? 'https://dashscope.aliyuncs.com/api/v1' }
        : {}),
      POLLER_FUNCTION_NAME: POLLER_FUNCTION,
      FC_ENDPOINT: fcEndpoint,
    });
    const config = loadConfig(env);
    await ensureTable(config.tablestore, { accessKeyId: described.tablestore.accessKeyId, accessKeySecret: described.tablestore.accessKeySecret });
    const runtimeOptions = { env, logSink: options.logSink, checkpoint: options.checkpoint, decorate: options.decorate };
    const submit = options.handlers?.submit ?? (createSubmitHandler(runtimeOptions) as FcHandler);
    const poller = options.handlers?.poller ?? (createPollerHandler(runtimeOptions) as FcHandler);
    fc.register({ name: SUBMIT_FUNCTION, handler: submit, timeout: options.submitTimeout ?? 60, ...ASYNC_RETRIES.submit });
    fc.register({ name: POLLER_FUNCTION, handler: poller, timeout: options.pollerTimeout ?? Math.ceil(config.pollBudgetMs / 1000) + 10, ...ASYNC_RETRIES.poller });
    // The same events the deployed triggers subscribe to (s.yaml), on the watched prefix.
    fc.connectOssTrigger(stack.oss, { prefix: config.sketchPrefix, events: ['ObjectCreated:PutObject', 'ObjectCreated:PostObject', 'ObjectCreated:CompleteMultipartUpload'] }, SUBMIT_FUNCTION);
    // The EventBridge trigger of s.yaml: completion events of our models, to the poller.
    if (events) pushEvent = fc.connectEventBridgeTrigger(POLLER_FUNCTION, { matches: (e) => matchesEventRule(e), ...events });
    if (options.timer !== false) fc.startTimer(POLLER_FUNCTION, options.timerEveryMs ?? 60_000);
    return {
      stack,
      fc,
      env,
      config,
      idle: async () => {
        // Invocations write objects whose events start invocations: wait until both are quiet.
        while (stack.oss.queuedEvents > 0 || fc.busy > 0) {
          await stack.oss.settled();
          await fc.idle();
        }
      },
      quiet: async () => {
        while (stack.oss.queuedEvents > 0 || fc.running > 0) {
          await stack.oss.settled();
          await fc.quiet();
        }
      },
      close: async () => {
        await fc.close();
        await stack.close();
      },
    };
  } catch (err) {
    await fc.close();
    await stack.close();
    throw err;
  }
}
