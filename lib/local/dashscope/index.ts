/**
 * DashScope simulator (issue 4). CONTRACT — other modules rely on exactly these names.
 */
export interface DashScopeSimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0
  apiKeys?: string[]; // default: one generated key
  /** Real seconds per simulated second: 0.01 runs a 20 s task in 0.2 s. Default 1. */
  timeScale?: number;
  /** Mean simulated task duration in seconds (default 20, with jitter). */
  taskSeconds?: number;
  submitsPerSecond?: number; // default 2
  queriesPerSecond?: number; // default 20
  seed?: number; // jitter and fault randomness
}

export interface DashScopeSimulator {
  baseUrl: string; // http://127.0.0.1:PORT/api/v1
  apiKey: string;
  /** Simulated clock (epoch ms). */
  now(): number;
  /** Jump the simulated clock forward (e.g. past the 24 h retention). */
  advance(ms: number): void;
  readonly records: unknown; // see the implementation: submissions per sketch URL, queries, …
  close(): Promise<void>;
}

export async function startDashScopeSimulator(_options: DashScopeSimulatorOptions = {}): Promise<DashScopeSimulator> {
  throw new Error('DashScope simulator not implemented yet');
}
