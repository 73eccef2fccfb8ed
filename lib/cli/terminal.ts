/** Small helpers the commands share for talking to a person. */
import path from 'node:path';
import { processIo, UsageError, type CliIo } from './io.js';

/** Whether stdout is a terminal (a status line can be redrawn in place). Tests may set `isTTY`. */
export function isTty(io: CliIo): boolean {
  const forced = (io as CliIo & { isTTY?: boolean }).isTTY;
  if (forced !== undefined) return forced;
  return io === processIo && process.stdout.isTTY === true;
}

/** Starts listening for Ctrl-C at once (so an early one is not fatal); `done` resolves on it. */
export function watchInterrupt(io: CliIo): { done: Promise<void>; readonly fired: boolean; signal: AbortSignal } {
  const controller = new AbortController();
  const done = io.interrupted().then(() => controller.abort());
  return {
    done,
    get fired() {
      return controller.signal.aborted;
    },
    signal: controller.signal,
  };
}

export function resolveDir(dir: string | undefined, fallback?: string): string | undefined {
  const chosen = dir ?? fallback;
  if (chosen === undefined) return undefined;
  if (chosen.trim() === '') throw new UsageError('--dir needs a folder');
  return path.resolve(chosen);
}

export function noExtraArgs(positionals: string[], max: number, usage: string): void {
  if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}' (usage: ${usage})`);
}
