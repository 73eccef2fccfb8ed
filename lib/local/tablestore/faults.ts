/**
 * Injected faults: the next `count` calls of an operation (or of any operation) fail.
 * busy = 503 OTSServerBusy; conflict = 409 OTSRowOperationConflict; timeout = never answer (the
 * client gives up or close() ends the socket); reset = destroy the socket without an answer.
 */
export type FaultKind = 'busy' | 'timeout' | 'reset' | 'conflict';

export interface Fault {
  /** Protocol operation name ('GetRow'; 'getRow' as the SDK method is named works too). */
  operation?: string;
  count: number;
  kind: FaultKind;
}

const normalize = (op: string): string => op.charAt(0).toUpperCase() + op.slice(1);

export class Faults {
  private readonly pending: Array<{ operation?: string; remaining: number; kind: FaultKind }> = [];

  inject(fault: Fault): void {
    if (!Number.isInteger(fault.count) || fault.count < 1) throw new RangeError('fault count must be a positive integer');
    this.pending.push({ ...(fault.operation ? { operation: normalize(fault.operation) } : {}), remaining: fault.count, kind: fault.kind });
  }

  /** The fault to apply to this call, if any; faults apply in the order they were injected. */
  take(operation: string): FaultKind | undefined {
    const i = this.pending.findIndex((f) => f.operation === undefined || f.operation === operation);
    if (i < 0) return undefined;
    const fault = this.pending[i]!;
    if (--fault.remaining === 0) this.pending.splice(i, 1);
    return fault.kind;
  }

  clear(): void {
    this.pending.length = 0;
  }
}
