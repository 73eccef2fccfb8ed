import * as z from 'zod';
import { MODEL_NAMES } from '../models/index.js';

/**
 * DashScope's "a task finished" event (docs/reference/events.md): a CloudEvent from source
 * `acs.dashscope`, type `dashscope:System:AsyncTaskFinish`, published to EventBridge's default bus
 * and handed to the poller by an FC 3.0 EventBridge trigger. How the trigger hands it over is not
 * confirmed by any page we could read, so every plausible shape is accepted:
 *   - one CloudEvent object (the event-driven push, `eventSchema: CloudEvents`);
 *   - a JSON array of them (batching);
 *   - only `data` (`eventSchema: RawData`), alone or in an array;
 *   - `data` as a JSON string, or as `data_base64` (the CloudEvents JSON format for binary data).
 * Only `data.task_id` is required: the task's slot, not the event, decides what happens (an event
 * carries no results and may be late, duplicated or for a task we never created). Everything else
 * may drift and passes through.
 */
export const TASK_EVENT_SOURCE = 'acs.dashscope';
export const TASK_EVENT_TYPE = 'dashscope:System:AsyncTaskFinish';

/**
 * The models whose completion events the trigger passes: every model we know, since s.yaml's
 * pattern cannot follow MODELS. The handler keeps the configured ones (`parseTaskEvents`).
 */
export const EVENT_MODELS: readonly string[] = MODEL_NAMES;

/**
 * The EventBridge event pattern of s.yaml's trigger (a test compares): task-finish events of our
 * models only, by the suffix of `user_api_unique_key` (events.md; pattern syntax per EB-P).
 */
export function eventRulePattern(models: readonly string[] = EVENT_MODELS) {
  return { source: [TASK_EVENT_SOURCE], type: [TASK_EVENT_TYPE], data: { user_api_unique_key: models.map((m) => ({ suffix: `:${m}` })) } };
}

/** Whether a CloudEvent passes that pattern (the local EventBridge trigger filters with it). */
export function matchesEventRule(event: { source?: unknown; type?: unknown; data?: unknown }, models: readonly string[] = EVENT_MODELS): boolean {
  const key = (event.data as { user_api_unique_key?: unknown } | undefined)?.user_api_unique_key;
  return event.source === TASK_EVENT_SOURCE && event.type === TASK_EVENT_TYPE && typeof key === 'string' && models.some((m) => key.endsWith(`:${m}`));
}

const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

export const TaskFinishDataSchema = z.looseObject({
  task_id: z.string().min(1),
  task_status: optional(z.string()),
  /** `apikey:v1:<group>:<task>:<function>:<model>`: the trigger's filter keeps our models' events. */
  user_api_unique_key: optional(z.string()),
  region: optional(z.string()),
  start_time: optional(z.string()),
  end_time: optional(z.string()),
  request_id: optional(z.string()),
});

export const TaskFinishCloudEventSchema = z.looseObject({
  specversion: optional(z.string()),
  id: optional(z.string()),
  source: z.string(),
  type: z.string(),
  time: optional(z.string()),
  data: z.unknown().optional(),
  data_base64: optional(z.string()),
});

export type TaskFinishData = z.infer<typeof TaskFinishDataSchema>;

/** One finished task, as the core reads it. */
export interface TaskFinished {
  taskId: string;
  status?: string;
  /** From `user_api_unique_key`, when it has one. */
  model?: string;
  eventId?: string;
}

export interface ParsedTaskEvents {
  /** Our models' events (possibly several for one task: duplicates are the core's business). */
  events: TaskFinished[];
  /** Elements that are not ours, with why (another source or type, another model, no task id). */
  ignored: string[];
}

/** The model named at the end of `user_api_unique_key`, if any. */
export function modelOfKey(key: string | undefined): string | undefined {
  const last = key?.split(':').at(-1);
  return last ? last : undefined;
}

function decodeData(event: z.infer<typeof TaskFinishCloudEventSchema>): unknown {
  if (event.data !== undefined && typeof event.data !== 'string') return event.data;
  const text = typeof event.data === 'string' ? event.data : event.data_base64 !== undefined ? Buffer.from(event.data_base64, 'base64').toString('utf8') : undefined;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads one element: a CloudEvent or its bare `data`. */
function readElement(element: unknown, models: readonly string[]): TaskFinished | string {
  let data: unknown = element;
  let eventId: string | undefined;
  const cloud = TaskFinishCloudEventSchema.safeParse(element);
  if (cloud.success) {
    if (cloud.data.source !== TASK_EVENT_SOURCE || cloud.data.type !== TASK_EVENT_TYPE) return `not a DashScope task event (${cloud.data.source} ${cloud.data.type})`;
    data = decodeData(cloud.data);
    eventId = cloud.data.id;
  }
  const parsed = TaskFinishDataSchema.safeParse(data);
  if (!parsed.success) return 'no data.task_id';
  const model = modelOfKey(parsed.data.user_api_unique_key);
  // No key at all: the slot decides (the trigger's filter could not have passed another model's).
  if (parsed.data.user_api_unique_key !== undefined && !models.includes(model ?? '')) return `a task of another model (${model ?? '?'})`;
  return { taskId: parsed.data.task_id, ...(parsed.data.task_status ? { status: parsed.data.task_status } : {}), ...(model ? { model } : {}), ...(eventId ? { eventId } : {}) };
}

/** True when `body` looks like a task event in one of the shapes above (one or a batch). */
function looksLikeTaskEvent(element: unknown): boolean {
  if (typeof element !== 'object' || element === null) return false;
  return 'task_id' in element || ('source' in element && 'type' in element);
}

/**
 * The finished tasks in a trigger's event body, or undefined when the body is not a completion
 * event in any shape (then it is no business of this parser: a timer event, garbage).
 */
export function parseTaskEvents(body: unknown, models: readonly string[]): ParsedTaskEvents | undefined {
  const elements = Array.isArray(body) ? body : [body];
  if (elements.length === 0 || !elements.every(looksLikeTaskEvent)) return undefined;
  const out: ParsedTaskEvents = { events: [], ignored: [] };
  for (const element of elements) {
    const read = readElement(element, models);
    if (typeof read === 'string') out.ignored.push(read);
    else out.events.push(read);
  }
  return out;
}
