/**
 * Function Compute as the pipeline sees it: every object written under the trigger's prefix
 * becomes an OSS event, delivered asynchronously and at least once (duplicates), sometimes late
 * and so out of order; a submit invocation that throws or dies is retried up to 3 times
 * (s.yaml maxAsyncRetryAttempts), after which the event lands in a recorded failure destination.
 * The poller runs on a timer and when kicked (x-fc-async-delay, whole seconds), never retried.
 */
import type { OssEventRecord } from '../../lib/events/oss.js';
import { TransportError } from '../../lib/errors.js';
import type { PollerKicker } from '../../lib/core/ports.js';
import type { Plan } from './plan.js';
import type { Faults } from './ports/faults.js';
import type { StoredObject } from './ports/objects.js';
import type { Rng } from './rng.js';
import type { Actor, Scheduler } from './scheduler.js';

export const FC_RETRIES = 3;

export interface FcHost {
  spawnSubmit(record: OssEventRecord, name: string, at?: number): Actor;
  spawnPoller(reason: string, at: number): Actor;
  stopped(): boolean;
}

export interface FailedEvent {
  key: string;
  etag: string;
  at: number;
}

export class FunctionCompute {
  readonly failureDestination: FailedEvent[] = [];
  private events = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly host: FcHost,
    private readonly plan: Pick<Plan, 'fc'>,
    private readonly rng: Rng | undefined,
    private readonly faults: Faults,
    readonly prefix: string,
    readonly bucket: string,
  ) {}

  /** An object was written: OSS notifies FC (once, or more), after a delay. */
  objectWritten(key: string, obj: StoredObject, writer: 'user' | 'core', previousSize?: number): void {
    if (!key.startsWith(this.prefix)) return;
    if (writer === 'core' && !this.rng?.chance(this.plan.fc.outputRate)) return;
    const record = this.recordFor(key, obj, previousSize);
    const copies = this.rng?.chance(this.plan.fc.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const late = this.rng?.chance(this.plan.fc.lateRate) ?? false;
      const delay = this.rng ? (late ? this.rng.int(2000, 8000) : this.rng.int(5, 600)) : 0;
      this.deliver(record, delay);
    }
  }

  /** The event record OSS sends for this write (lib/local/oss/triggers.ts builds the same). */
  recordFor(key: string, obj: StoredObject, previousSize?: number): OssEventRecord {
    const n = ++this.events;
    const userMeta: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj.meta)) userMeta[`x-oss-meta-${k}`] = v;
    // Shaped like lib/local/oss/triggers.ts's events; the schema is the handler's check, not ours.
    return {
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      eventTime: new Date(this.sched.now).toISOString(),
      eventVersion: '1.0',
      region: 'cn-beijing',
      oss: {
        bucket: { arn: `acs:oss:cn-beijing:1234567890:${this.bucket}`, name: this.bucket, ownerIdentity: '1234567890' },
        object: { deltaSize: obj.bytes.length - (previousSize ?? 0), eTag: obj.etag, key, objectMeta: { mimeType: obj.contentType, userMeta }, size: obj.bytes.length },
        ossSchemaVersion: '1.0',
        ruleId: 'sketch-uploads',
      },
      requestParameters: { sourceIPAddress: '203.0.113.7' },
      responseElements: { requestId: `oss-req-${n}` },
      userIdentity: { principalId: '1234567890' },
    } satisfies OssEventRecord;
  }

  /**
   * One asynchronous delivery of an event: a submit invocation after `delayMs`, and FC's retries
   * (each a new invocation) while it throws or dies.
   */
  deliver(record: OssEventRecord, delayMs: number, attempt = 0, n = ++this.events): Actor {
    const run = this.host.spawnSubmit(record, `submit#${n}${attempt ? `.r${attempt}` : ''}`, this.sched.now + delayMs);
    run.onEnd.push((ended) => {
      if (ended.state === 'done' && ended.outcome?.ok) return;
      if (attempt < FC_RETRIES) this.deliver(record, this.rng ? this.rng.int(...this.plan.fc.retryDelayMs) : 1000, attempt + 1, n);
      else this.failureDestination.push({ key: record.oss.object.key, etag: record.oss.object.eTag ?? '', at: this.sched.now });
    });
    return run;
  }

  /** The timer trigger: a poller every `periodMs` until the world stops. */
  startTimer(periodMs: number): Actor {
    return this.sched.spawn(
      'timer',
      'timer',
      async (actor) => {
        while (!this.host.stopped()) {
          await this.sched.sleep(actor, periodMs);
          if (!this.host.stopped()) this.host.spawnPoller('timer', this.sched.now);
        }
      },
      { system: true },
    );
  }

  /** The PollerKicker an invocation gets: an async invoke, delayed in whole seconds. */
  kicker(actor: Actor): PollerKicker {
    return {
      kick: (reason, delayMs = 0) =>
        this.sched.call(actor, 'kicker', 'kick', `${reason} +${delayMs}ms`, () => {
          const fault = this.faults.choose(actor, 'kick', [['reset-before', 1], ['reset-after', 1]] as const, reason);
          const delay = Math.min(3600, Math.floor(delayMs / 1000)) * 1000;
          if (fault !== 'reset-before') this.host.spawnPoller(`kick:${reason}`, this.sched.now + delay);
          if (fault) throw new TransportError('fc', `invoke poller: socket hang up`, true);
        }),
    };
  }
}
