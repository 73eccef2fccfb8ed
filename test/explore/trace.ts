/**
 * A schedule's compact trace: kept only when asked for (a violation is replayed by seed with
 * tracing on), so exploring pays nothing for it.
 */
import type { Logger } from '../../lib/log.js';

export class Trace {
  readonly lines: string[] = [];

  constructor(
    private readonly now: () => number,
    private readonly start: number,
    /** Also every store and bucket call (long); otherwise only the calls that tell the story. */
    readonly full = false,
  ) {}

  add(line: string): void {
    this.lines.push(`${((this.now() - this.start) / 1000).toFixed(3).padStart(8)}s  ${line}`);
  }

  /** Keeps a port call unless it is routine traffic (store reads and writes, sleeps, joins). */
  wants(port: string | undefined, name: string | undefined): boolean {
    if (this.full || port === undefined) return true;
    // User uploads and creates have their own, richer lines (world.ts).
    if (port === 'rows' || port === 'clock' || port === 'join' || port === 'start' || port === 'user' || name === 'createTask') return false;
    return port !== 'objects' || name === 'put' || name === 'delete';
  }
}

const SKIP = new Set(['poller done', 'object handled']);

const noop = () => {};
const SILENT: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => SILENT };

/** A Logger that notes the pipeline's state lines and warnings in the trace (silent without one). */
export function traceLogger(trace: Trace | undefined, who: string): Logger {
  if (!trace) return SILENT;
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    if (SKIP.has(msg) || level === 'debug') return;
    const f = fields ?? {};
    const parts = ['jobKey', 'state', 'taskId', 'attempts', 'reason', 'refused', 'adopted', 'lostTaskId', 'taskStatus']
      .filter((k) => f[k] !== undefined)
      .map((k) => `${k}=${String(f[k])}`);
    const err = f.error instanceof Error ? ` error=${f.error.message.slice(0, 100)}` : '';
    trace.add(`${who} log ${level === 'info' ? '' : `${level.toUpperCase()} `}${msg} ${parts.join(' ')}${err}`);
  };
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: () => logger };
  return logger;
}
