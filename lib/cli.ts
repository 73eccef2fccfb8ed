/**
 * The `sketchflow` command line (SPEC §7). Exit codes: 0 success, 1 job failures,
 * 2 usage or configuration error. Errors go to stderr, one readable line each.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const USAGE = `usage: sketchflow <command> [options]

commands:
  local [--dir DIR] [--once] [--dashscope sim|real] [--task-seconds S]
                      run the whole pipeline on this machine (npm start)
  emulators [--json]  start the loopback OSS, Tablestore and DashScope stand-ins
  setup               create the Tablestore table(s) and check access
  status [PREFIX]     list jobs with state and age
  retry KEY           process a sketch again
  backfill PREFIX     queue existing sketches that have no manifest
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'emulators':
        return await emulators(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}' (try: sketchflow help)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sketchflow: ${err.message}\n`);
      return 2;
    }
    io.stderr(`sketchflow: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

async function emulators(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const { startLocalStack } = await import('./local/stack.js');
  const stack = await startLocalStack();
  const endpoints = stack.describe();
  if (values.json) {
    io.stdout(`${JSON.stringify(endpoints)}\n`);
  } else {
    io.stdout(
      [
        `OSS         ${endpoints.oss.endpoint}  bucket ${endpoints.oss.bucket}`,
        `Tablestore  ${endpoints.tablestore.endpoint}  instance ${endpoints.tablestore.instance}`,
        `DashScope   ${endpoints.dashscope.baseUrl}`,
        `access key  ${endpoints.oss.accessKeyId} / ${endpoints.oss.accessKeySecret}`,
        `api key     ${endpoints.dashscope.apiKey}`,
        'Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await stack.close();
  return 0;
}
