import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Environment the command reads its settings from (SPEC §6). */
  env: Record<string, string | undefined>;
  /** Resolves when the user interrupts (Ctrl-C / SIGTERM). */
  interrupted: () => Promise<void>;
}

export const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  interrupted: () =>
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
};

/** A usage or configuration problem: exit code 2 (SPEC §7). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A command: arguments after its name → exit code. */
export type Command = (args: string[], io: CliIo) => Promise<number>;
