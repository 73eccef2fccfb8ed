/**
 * What one schedule is made of, drawn from its seed before anything runs: the configuration
 * (small and varied), the user's jobs and uploads, how often each port fails, how often actors
 * crash or stall, and how Function Compute delivers events.
 */
import type { EventsPlan } from './eventbridge.js';
import { NO_FAULTS, type FaultRates } from './ports/faults.js';
import { Rng } from './rng.js';

export type JobMode = 'sidecar' | 'meta' | 'late';

export const SKETCH_MODEL = 'wanx-sketch-to-image-lite';
export type UploadWhat = 'sketch' | 'sketch-same' | 'sidecar';

export interface JobPlan {
  name: string;
  jobKey: string;
  mode: JobMode;
  /** Images asked for in the sidecar (meta jobs use DEFAULT_N = 1). */
  n: number;
  /** Non-square sketches are sent as an OSS-normalized view (a presign with x-oss-process). */
  square: boolean;
  format: 'png' | 'jpg';
  /** The model its sidecar names (meta jobs: the default, the sketch model). */
  model: string;
  uploads: Array<{ at: number; what: UploadWhat }>;
}

export interface Plan {
  seed: number;
  env: Record<string, string>;
  /** Virtual epoch ms at which the schedule starts. */
  start: number;
  /** DashScope through the real adapter over an in-memory dispatcher, or the direct fake. */
  wire: boolean;
  kicker: boolean;
  jobs: JobPlan[];
  rates: FaultRates;
  crashRate: number;
  stallRate: number;
  /** Faults, crashes and stalls stop this long after the start (ms). */
  faultsForMs: number;
  timerPeriodMs: number;
  stepMaxMs: number;
  /** Events of the pipeline's own outputs are delivered at this rate (each is skipped with no I/O). */
  fc: { duplicateRate: number; lateRate: number; outputRate: number; retryDelayMs: [number, number] };
  /** After faults stop, the schedule must come to rest within this (virtual ms). */
  quietLimitMs: number;
  /** DashScope's completion events (eventbridge.ts); the event faults are FaultRates.event. */
  events: EventsPlan;
}

const DAY_MS = 86_400_000;
/** 2025-03-10 12:00 in Asia/Shanghai. */
const BASE = Date.UTC(2025, 2, 10, 4, 0, 0);

const LIGHT: FaultRates = { rows: 0.01, objects: 0.01, imageInfo: 0.03, create: 0.15, query: 0.08, list: 0.1, cancel: 0.1, download: 0.05, kick: 0.05, lose: 0.08, event: 0.1 };
const HEAVY: FaultRates = { rows: 0.04, objects: 0.03, imageInfo: 0.08, create: 0.35, query: 0.2, list: 0.2, cancel: 0.2, download: 0.1, kick: 0.15, lose: 0.2, event: 0.3 };

export function makePlan(seed: number, rng = new Rng(seed)): Plan {
  const maxInFlight = rng.int(1, 3);
  const timeoutSeconds = rng.pick([0.5, 1, 2]);
  const profile = rng.weighted([
    ['calm', 2],
    ['light', 4],
    ['heavy', 4],
  ] as const);
  const jobs: JobPlan[] = [];
  const count = rng.weighted([
    [2, 4],
    [3, 3],
    [4, 2],
    [5, 1],
    [6, 1],
  ] as const);
  let last = 0;
  for (let i = 1; i <= count; i++) {
    const mode = rng.weighted([
      ['sidecar', 5],
      ['meta', 3],
      ['late', 2],
    ] as const);
    const first = rng.int(0, 3000);
    const uploads: JobPlan['uploads'] = [];
    if (mode === 'sidecar' && rng.chance(0.35)) uploads.push({ at: first, what: 'sidecar' }, { at: first + rng.int(0, 1500), what: 'sketch' });
    else if (mode === 'sidecar') uploads.push({ at: first, what: 'sketch' }, { at: first + rng.int(0, 1500), what: 'sidecar' });
    else uploads.push({ at: first, what: 'sketch' });
    if (mode === 'late' && rng.chance(0.8)) uploads.push({ at: first + rng.int(500, 9000), what: 'sidecar' });
    for (let e = rng.weighted([[0, 4], [1, 4], [2, 2]] as const); e > 0; e--) {
      const what: UploadWhat = mode === 'meta' ? rng.pick(['sketch', 'sketch-same'] as const) : rng.pick(['sketch', 'sketch-same', 'sidecar', 'sidecar'] as const);
      uploads.push({ at: first + rng.int(200, 6000), what });
    }
    uploads.sort((a, b) => a.at - b.at);
    last = Math.max(last, uploads[uploads.length - 1]!.at);
    // A mix of models (issue 16): each has its own slots, rate and pause in one scheduler.
    const model = mode === 'meta' ? SKETCH_MODEL : rng.weighted([[SKETCH_MODEL, 6], ['wanx2.1-imageedit', 2], ['wan2.5-i2i-preview', 2]] as const);
    jobs.push({ name: `j${i}`, jobKey: `sketches/${i % 3 === 0 ? 'sub/' : ''}j${i}`, mode, n: mode === 'meta' ? 1 : rng.pick([1, 1, 2]), square: rng.chance(0.8), format: rng.chance(0.8) ? 'png' : 'jpg', model, uploads });
  }
  const maxN = Math.max(...jobs.map((j) => j.n));
  const binding = rng.chance(0.2);
  const kicker = rng.chance(0.8);
  const env: Record<string, string> = {
    DASHSCOPE_API_KEY: 'sk-explorer',
    OSS_BUCKET: 'explorer-bucket',
    TABLESTORE_ENDPOINT: 'https://explorer.cn-beijing.ots.aliyuncs.com',
    TABLESTORE_INSTANCE: 'explorer',
    MAX_IN_FLIGHT: String(maxInFlight),
    MAX_ATTEMPTS: String(rng.int(1, 4)),
    MAX_IMAGES_PER_DAY: binding ? String(maxN + rng.int(0, 2)) : '0',
    DASHSCOPE_TIMEOUT_SECONDS: String(timeoutSeconds),
    POLL_INTERVAL_SECONDS: String(rng.pick([0.5, 1, 2])),
    POLL_BUDGET_SECONDS: String(rng.pick([2, 4, 8])),
    PROMPT_GRACE_SECONDS: String(rng.pick([3, 6, 12])),
    ACCOUNT_RETRY_SECONDS: String(rng.pick([1, 2, 5])),
    LOG_LEVEL: 'debug',
    MAX_QUEUE_HOURS: '240',
    ...(kicker ? { POLLER_FUNCTION_NAME: 'poller' } : {}),
  };
  // A binding budget starts shortly before midnight in Shanghai, so waiting jobs resume in the run.
  const start = binding ? BASE + DAY_MS / 2 - rng.int(5_000, 25_000) : BASE + rng.int(0, 3600_000);
  const rates = profile === 'calm' ? NO_FAULTS : profile === 'light' ? LIGHT : HEAVY;
  const plan: Omit<Plan, 'events'> = {
    seed,
    env,
    start,
    wire: rng.chance(0.25),
    kicker,
    jobs,
    rates,
    crashRate: profile === 'calm' ? 0 : profile === 'light' ? 0.004 : 0.012,
    stallRate: profile === 'calm' ? 0 : profile === 'light' ? 0.003 : 0.008,
    faultsForMs: last + rng.int(1000, 6000),
    timerPeriodMs: rng.pick([3000, 6000, 12000]),
    stepMaxMs: rng.pick([5, 20, 50]),
    fc: { duplicateRate: rng.pick([0, 0.2, 0.5]), lateRate: rng.pick([0, 0.1, 0.3]), outputRate: 0.25, retryDelayMs: [300, 3000] },
    quietLimitMs: 180_000 + (binding ? 30_000 : 0),
  };
  // Drawn last, so that the rest of a seed's plan stays as it was before events existed.
  const events: EventsPlan = { delivered: rng.chance(0.85), canceled: rng.chance(0.5), strayRate: rng.pick([0, 0.05, 0.2]) };
  env.TASK_EVENTS = rng.chance(0.75) ? 'on' : 'off';
  env.EVENT_SAFETY_SECONDS = String(rng.pick([1, 3, 10, 30]));
  return { ...plan, events };
}
