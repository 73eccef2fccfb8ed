/**
 * What tests, the soak run and the benchmark read back: every request, every task state change,
 * the busy intervals of each account's single processing slot, and billing. `at` is simulated
 * epoch ms, `realAt` real epoch ms. Keys appear only as key ids; sketch URLs only with their
 * signatures redacted.
 */
import { redact } from '../../redact.js';

export type TaskStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'UNKNOWN';

export interface CreateRecord {
  at: number;
  realAt: number;
  apiKeyId: string;
  requestId: string;
  status: number;
  code?: string;
  taskId?: string;
  /** The body as sent, every string redacted (sketch URL signatures included). */
  body: unknown;
  /** Sketch URL without its query, and its path (what `submissionsFor` groups by). */
  sketchUrl?: string;
  sketchPath?: string;
  n?: number;
  promptTruncated?: boolean;
  /** An injected fault shaped this answer (its kind). */
  fault?: string;
  /** Which create path was called (the model is image2image; text2image is switched). */
  path?: 'image2image' | 'text2image';
}

export interface QueryRecord {
  at: number;
  realAt: number;
  apiKeyId: string;
  requestId: string;
  taskId: string;
  status: number;
  /** What the answer said (a queryStatus fault can put any string there, or nothing). */
  taskStatus?: string;
  code?: string;
  /** An injected fault shaped this answer (its kind). */
  fault?: string;
}

export interface CancelRecord {
  at: number;
  realAt: number;
  apiKeyId: string;
  requestId: string;
  taskId: string;
  status: number;
  code?: string;
  /** An injected fault shaped this answer (its kind). */
  fault?: string;
}

export interface ListRecord {
  at: number;
  realAt: number;
  apiKeyId: string;
  status: number;
  code?: string;
  total?: number;
  /** An injected fault shaped this answer (its kind). */
  fault?: string;
}

export interface TransitionRecord {
  taskId: string;
  apiKeyId: string;
  from: TaskStatus | null;
  to: TaskStatus;
  /** Simulated time of the transition (logical: a task that ended during an advance() keeps its end). */
  at: number;
  realAt: number;
  code?: string;
}

/** One RUNNING period of one of an account's slots for a model. */
export interface BusyInterval {
  apiKeyId: string;
  model?: string;
  taskId: string;
  start: number;
  end?: number;
  realStart: number;
  realEnd?: number;
  outcome?: TaskStatus;
}

export interface DownloadRecord {
  at: number;
  realAt: number;
  taskId: string;
  index: number;
  status: number;
  code?: string;
}

export interface UploadRecord {
  at: number;
  realAt: number;
  kind: 'getPolicy' | 'upload';
  apiKeyId?: string;
  model?: string;
  key?: string;
  bytes?: number;
  status: number;
  code?: string;
  /** An injected fault shaped this answer (its kind). */
  fault?: string;
}

/** A hang/reset/gateway fault that struck a request. */
export interface NetworkFaultRecord {
  at: number;
  realAt: number;
  kind: string;
  fault: 'hang' | 'reset' | 'gateway';
  /** The gateway's status. */
  status?: number;
  when: 'before' | 'after';
  path: string;
}

/** One delivery (or loss) of a completion event; an HTTP target's retries are one record each. */
export interface EventRecord {
  at: number;
  realAt: number;
  eventId: string;
  taskId: string;
  taskStatus: string;
  delivered: boolean;
  /** The event fault that shaped it (lose, duplicate, late, reorder, stray). */
  fault?: string;
  /** HTTP target: the status answered (0 = no answer) and the attempt (0 = first). */
  status?: number;
  attempt?: number;
  error?: string;
}

export interface RecordsSnapshot {
  creates: CreateRecord[];
  queries: QueryRecord[];
  cancels: CancelRecord[];
  lists: ListRecord[];
  transitions: TransitionRecord[];
  busy: BusyInterval[];
  downloads: DownloadRecord[];
  uploads: UploadRecord[];
  networkFaults: NetworkFaultRecord[];
  events: EventRecord[];
  /** Highest PENDING+RUNNING count seen per key id. */
  maxInFlight: Record<string, number>;
  /** Highest RUNNING count seen per `keyId/model` (at most the model's concurrency). */
  maxRunning: Record<string, number>;
  /** Billed images (successful ones), in total and per key id; per `keyId/model`; and their price in CNY. */
  imageCount: number;
  imageCountByKey: Record<string, number>;
  imageCountByModel: Record<string, number>;
  costCny: number;
}

export class Records implements RecordsSnapshot {
  creates: CreateRecord[] = [];
  queries: QueryRecord[] = [];
  cancels: CancelRecord[] = [];
  lists: ListRecord[] = [];
  transitions: TransitionRecord[] = [];
  busy: BusyInterval[] = [];
  downloads: DownloadRecord[] = [];
  uploads: UploadRecord[] = [];
  networkFaults: NetworkFaultRecord[] = [];
  events: EventRecord[] = [];
  maxInFlight: Record<string, number> = {};
  maxRunning: Record<string, number> = {};
  imageCount = 0;
  imageCountByKey: Record<string, number> = {};
  imageCountByModel: Record<string, number> = {};
  costCny = 0;

  /**
   * Accepted creates (a task was made) whose sketch URL is `path`: a pathname (`/sketches/cat.png`,
   * leading slash optional) or a URL without query. Presigned variants of one object group together.
   * `{ all: true }` includes rejected creates.
   */
  submissionsFor(path: string, options: { all?: boolean } = {}): CreateRecord[] {
    const wanted = new Set([path, path.startsWith('/') ? path : `/${path}`]);
    return this.creates.filter(
      (c) => (options.all || c.taskId !== undefined) && ((c.sketchPath !== undefined && wanted.has(c.sketchPath)) || (c.sketchUrl !== undefined && wanted.has(c.sketchUrl))),
    );
  }

  /** Transitions of one task, in order. */
  historyOf(taskId: string): TransitionRecord[] {
    return this.transitions.filter((t) => t.taskId === taskId);
  }

  noteInFlight(apiKeyId: string, count: number): void {
    if (count > (this.maxInFlight[apiKeyId] ?? 0)) this.maxInFlight[apiKeyId] = count;
  }

  noteRunning(apiKeyId: string, model: string, count: number): void {
    const k = `${apiKeyId}/${model}`;
    if (count > (this.maxRunning[k] ?? 0)) this.maxRunning[k] = count;
  }

  bill(apiKeyId: string, images: number, model: string, priceCny: number): void {
    this.imageCount += images;
    this.imageCountByKey[apiKeyId] = (this.imageCountByKey[apiKeyId] ?? 0) + images;
    const k = `${apiKeyId}/${model}`;
    this.imageCountByModel[k] = (this.imageCountByModel[k] ?? 0) + images;
    // Whole fen avoid float drift over thousands of images.
    this.costCny = Math.round((this.costCny + images * priceCny) * 100) / 100;
  }

  toJSON(): RecordsSnapshot {
    return {
      creates: this.creates,
      queries: this.queries,
      cancels: this.cancels,
      lists: this.lists,
      transitions: this.transitions,
      busy: this.busy,
      downloads: this.downloads,
      uploads: this.uploads,
      networkFaults: this.networkFaults,
      events: this.events,
      maxInFlight: this.maxInFlight,
      maxRunning: this.maxRunning,
      imageCount: this.imageCount,
      imageCountByKey: this.imageCountByKey,
      imageCountByModel: this.imageCountByModel,
      costCny: this.costCny,
    };
  }
}

/** Splits a sketch URL into the grouping fields; unparsable URLs keep only a redacted string. */
export function sketchUrlParts(url: string): { sketchUrl: string; sketchPath?: string } {
  try {
    const u = new URL(url);
    if (u.protocol === 'oss:') return { sketchUrl: `oss://${u.host}${u.pathname}`, sketchPath: decodeURIComponent(`/${u.host}${u.pathname}`) };
    return { sketchUrl: `${u.origin}${u.pathname}`, sketchPath: decodeURIComponent(u.pathname) };
  } catch {
    return { sketchUrl: redact(url.split('?')[0] ?? url) };
  }
}
