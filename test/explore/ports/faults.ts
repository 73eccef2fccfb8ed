/**
 * Which reply class a port call gets. Random per call while the schedule is in its faults phase,
 * never in the quiet phase; a scenario test can force the class of the next matching call.
 */
import type { Rng } from '../rng.js';
import type { Actor } from '../scheduler.js';

export type FaultKind = 'rows' | 'objects' | 'imageInfo' | 'create' | 'query' | 'list' | 'cancel' | 'download' | 'kick' | 'lose' | 'event';
export type FaultRates = Record<FaultKind, number>;
export type Phase = 'faults' | 'quiet';

export const NO_FAULTS: FaultRates = { rows: 0, objects: 0, imageInfo: 0, create: 0, query: 0, list: 0, cancel: 0, download: 0, kick: 0, lose: 0, event: 0 };

interface Forced {
  kind: FaultKind;
  value: string;
  match?: (detail: string) => boolean;
}

export class Faults {
  phase: Phase = 'faults';
  private readonly forced: Forced[] = [];
  /** Told of every injected fault (the checks excuse what a fault may explain; the trace shows it). */
  onFault: ((actor: Actor | undefined, kind: FaultKind, value: string, detail: string) => void) | undefined;

  constructor(
    private readonly rng: Rng | undefined,
    readonly rates: FaultRates,
  ) {}

  /** The next call of `kind` (whose detail matches) gets `value`, whatever the phase. */
  force(kind: FaultKind, value: string, match?: (detail: string) => boolean): void {
    this.forced.push({ kind, value, ...(match ? { match } : {}) });
  }

  /** A fault class for this call, or undefined for a normal reply. */
  choose<T extends string>(actor: Actor | undefined, kind: FaultKind, classes: ReadonlyArray<readonly [T, number]>, detail = ''): T | undefined {
    let value: T | undefined;
    const i = this.forced.findIndex((f) => f.kind === kind && (!f.match || f.match(detail)));
    if (i >= 0) {
      value = this.forced[i]!.value as T;
      this.forced.splice(i, 1);
      if (value === ('ok' as T)) return undefined;
    } else if (this.rng && this.phase === 'faults' && this.rng.chance(this.rates[kind])) {
      value = this.rng.weighted(classes);
    }
    if (value !== undefined) this.onFault?.(actor, kind, value, detail);
    return value;
  }

  /** A seeded draw for a port's own choices (task durations, which task is lost when). */
  draw(): number {
    return this.rng ? this.rng.float() : 0.5;
  }
}
