/**
 * OSS triggers: subscriptions with OSS's rule semantics (key prefix, case-sensitive suffix, event
 * names) and the event body Function Compute hands the function (docs/reference/fc.md §1.1).
 * Delivery is asynchronous, a little after the HTTP response, like the real notification pipeline.
 */
import { randomBytes } from 'node:crypto';
import type { TriggerRule } from './index.js';
import type { ObjectRecord } from './store.js';

export interface ObjectEventInput {
  eventName: string;
  bucket: string;
  key: string;
  /** What the event tells of the object. */
  record: Pick<ObjectRecord, 'etag' | 'size' | 'contentType' | 'userMeta'>;
  previousSize?: number;
  requestId: string;
  sourceIp: string;
}

export interface EventContext {
  /** Standard region, e.g. 'cn-beijing'. */
  region: string;
  accountId: string;
  now: () => number;
  /** How `object.key` is written into the event (undocumented upstream, see lib/events/oss.ts). */
  keyStyle: EventKeyStyle;
  /** Delay between the response and delivery (OSS notifications lag the upload). */
  delayMs: number;
}

type Listener = (event: { events: unknown[] }) => void | Promise<void>;

interface Subscription {
  rule: TriggerRule;
  ruleId: string;
  listener: Listener;
}

/** The created-object events OSS can emit (the default when a rule lists none). */
export const OBJECT_CREATED_EVENTS = [
  'ObjectCreated:PutObject',
  'ObjectCreated:PostObject',
  'ObjectCreated:CopyObject',
  'ObjectCreated:CompleteMultipartUpload',
  'ObjectCreated:AppendObject',
  'ObjectCreated:PutSymlink',
];

/**
 * The ways OSS might write `oss.object.key` (fc.md §1.1: unconfirmed): as stored, percent-encoded
 * (`encodeURIComponent`, '/' kept), or form-encoded like S3's notifications ('+' for a space).
 */
export type EventKeyStyle = 'raw' | 'encoded' | 'form';
export const EVENT_KEY_STYLES: readonly EventKeyStyle[] = ['raw', 'encoded', 'form'];

export function eventKey(key: string, style: EventKeyStyle): string {
  if (style === 'raw') return key;
  const encoded = encodeURIComponent(key).replace(/%2F/g, '/');
  return style === 'form' ? encoded.replace(/%20/g, '+') : encoded;
}

export function ruleMatches(rule: TriggerRule, eventName: string, key: string): boolean {
  const events = (rule.events ?? OBJECT_CREATED_EVENTS).map((e) => e.replace(/^oss:/, ''));
  const nameOk = events.some((e) => e === eventName || (e.endsWith(':*') && eventName.startsWith(e.slice(0, -1))));
  return nameOk && key.startsWith(rule.prefix ?? '') && key.endsWith(rule.suffix ?? '');
}

export function buildEvent(input: ObjectEventInput, ctx: EventContext, ruleId: string): { events: unknown[] } {
  const userMeta: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.record.userMeta)) userMeta[`x-oss-meta-${k}`] = v;
  return {
    events: [
      {
        eventName: input.eventName,
        eventSource: 'acs:oss',
        // Whole seconds, as in every event OSS documents ("2022-08-13T06:45:43.000Z", fc.md §1.1).
        eventTime: new Date(Math.floor(ctx.now() / 1000) * 1000).toISOString(),
        eventVersion: '1.0',
        oss: {
          bucket: {
            arn: `acs:oss:${ctx.region}:${ctx.accountId}:${input.bucket}`,
            name: input.bucket,
            ownerIdentity: ctx.accountId,
          },
          object: {
            deltaSize: input.record.size - (input.previousSize ?? 0),
            // OSS writes the ETag here without quotes, uppercase hex.
            eTag: input.record.etag,
            key: eventKey(input.key, ctx.keyStyle),
            objectMeta: { mimeType: input.record.contentType, userMeta },
            size: input.record.size,
          },
          ossSchemaVersion: '1.0',
          ruleId,
        },
        region: ctx.region,
        requestParameters: { sourceIPAddress: input.sourceIp },
        responseElements: { requestId: input.requestId },
        userIdentity: { principalId: ctx.accountId },
      },
    ],
  };
}

export class TriggerHub {
  private readonly subscriptions = new Set<Subscription>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly ctx: EventContext) {}

  subscribe(rule: TriggerRule, listener: Listener): () => void {
    const sub: Subscription = { rule, ruleId: randomBytes(20).toString('hex'), listener };
    this.subscriptions.add(sub);
    return () => this.subscriptions.delete(sub);
  }

  /** Queue delivery to every matching subscription, `delayMs` later; never inside the request. */
  emit(input: ObjectEventInput): void {
    if (this.closed) return;
    const targets = [...this.subscriptions].filter((s) => ruleMatches(s.rule, input.eventName, input.key));
    if (targets.length === 0) return;
    this.pending++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        for (const sub of targets) {
          if (this.closed || !this.subscriptions.has(sub)) continue;
          try {
            const result = sub.listener(buildEvent(input, this.ctx, sub.ruleId));
            if (result && typeof (result as Promise<void>).catch === 'function') {
              (result as Promise<void>).catch((err: unknown) => reportListenerError(err));
            }
          } catch (err) {
            reportListenerError(err);
          }
        }
      } finally {
        this.pending--;
        if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
      }
    }, this.ctx.delayMs);
    this.timers.add(timer);
  }

  /** Deliveries queued and not yet handed to their listeners. */
  get queued(): number {
    return this.pending;
  }

  /** Resolves once every queued delivery has been handed to its listeners. */
  settled(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending = 0;
    this.subscriptions.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function reportListenerError(err: unknown): void {
  // A failing subscriber is the subscriber's bug; it must not take the emulator down.
  process.stderr.write(`oss emulator: trigger listener failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
}
