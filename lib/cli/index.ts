/**
 * The `sketchflow` command line (SPEC §7). Exit codes: 0 success, 1 job failures,
 * 2 usage or configuration error. Errors go to stderr, one readable line each.
 * Each command lives in its own file; this one only dispatches.
 */
import { ConfigError } from '../errors.js';
import { processIo, UsageError, type CliIo, type Command } from './io.js';

export { UsageError, type CliIo } from './io.js';

const USAGE = `usage: sketchflow <command> [options]

commands:
  local [--dir DIR] [--once] [--dashscope sim|real] [--task-seconds S]
                      run the whole pipeline on this machine (npm start)
  emulators [--json]  start the loopback OSS, Tablestore and DashScope stand-ins
  setup               create the Tablestore table(s) and check access
  status [PREFIX] [--json] [--dir DIR]
                      list jobs with state and age
  retry KEY [--dir DIR]
                      process a sketch again
  retry PREFIX --failed [--dir DIR]
                      process every failed job under PREFIX again
  backfill PREFIX [--dir DIR]
                      queue existing sketches that have no manifest

status, retry and backfill act on the services configured in the environment (SPEC §6 settings,
ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET), or with --dir on a local bucket folder.
exit codes: 0 success, 1 job failures, 2 usage or configuration error
`;

const COMMANDS: Record<string, () => Promise<Command>> = {
  local: async () => (await import('./local.js')).local,
  emulators: async () => (await import('./emulators.js')).emulators,
  setup: async () => (await import('./setup.js')).setup,
  status: async () => (await import('./status.js')).status,
  retry: async () => (await import('./retry.js')).retry,
  backfill: async () => (await import('./backfill.js')).backfill,
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(USAGE); // a usage error: no command given
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(USAGE);
    return 0;
  }
  try {
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command '${name}' (try: sketchflow help)`);
    return await (await load())(rest, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr(`sketchflow: ${err.message}\n`);
      return 2;
    }
    io.stderr(`sketchflow: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
