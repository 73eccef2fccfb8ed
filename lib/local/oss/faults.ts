/**
 * Fault injection: the next N requests matching a RAM action fail with an OSS error, lose their
 * connection, or never get an answer (until close()), so callers' retry paths can be tested.
 */
import { E, OssError } from './errors.js';

export interface FaultSpec {
  action?: string;
  count: number;
  kind: 'error' | 'reset' | 'hang';
  status?: number;
  code?: string;
}

export type Fault = { kind: 'error'; error: OssError } | { kind: 'reset' } | { kind: 'hang' };

export class FaultQueue {
  private readonly faults: Array<FaultSpec & { left: number }> = [];

  add(spec: FaultSpec): void {
    if (!Number.isInteger(spec.count) || spec.count < 1) throw new Error('injectFault: count must be a positive integer');
    this.faults.push({ ...spec, left: spec.count });
  }

  /** The fault for a request with these RAM actions, consuming one use; first added, first used. */
  take(actions: string[]): Fault | undefined {
    const i = this.faults.findIndex((f) => f.action === undefined || actions.includes(f.action));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.left === 0) this.faults.splice(i, 1);
    if (f.kind !== 'error') return { kind: f.kind };
    if (f.status === undefined && f.code === undefined) return { kind: 'error', error: E.serviceUnavailable() };
    const status = f.status ?? 503;
    const code = f.code ?? (status === 503 ? 'ServiceUnavailable' : status >= 500 ? 'InternalError' : 'InjectedFault');
    return { kind: 'error', error: new OssError(status, code, `Injected fault (${code}).`) };
  }
}
