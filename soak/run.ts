/**
 * `npm run soak -- --seed N --sketches M [--minutes T] [--break pay-once|outputs] [--exclude a,b]
 * [--intensity X] [--json FILE] [--log FILE] [--quiet]`
 *
 * Prints one table (and, on failure, the seed, the first broken invariant and that job's history),
 * writes the table as JSON (default soak/last-run.json), exits 0 only if every invariant holds
 * (2 on a usage error).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXCLUDABLE } from './plan.js';
import { runSoak, type SoakOptions } from './soak.js';

const USAGE = 'usage: npm run soak -- --seed N --sketches M [--minutes T] [--break pay-once|outputs] [--exclude dot-segments,…] [--intensity X] [--json FILE] [--log FILE] [--quiet]';

function parseArgs(argv: string[]): { options: SoakOptions; json: string; quiet: boolean } {
  const args = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (name === 'quiet' || name === 'help') {
      flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    args.set(name, value);
  }
  if (flags.has('help')) throw new Error('help');
  for (const name of args.keys()) if (!['seed', 'sketches', 'minutes', 'break', 'exclude', 'intensity', 'json', 'log'].includes(name)) throw new Error(`unknown option --${name}`);
  const int = (name: string, def?: number) => {
    const v = args.get(name);
    if (v === undefined) {
      if (def === undefined) throw new Error(`--${name} is required`);
      return def;
    }
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number (got ${JSON.stringify(v)})`);
    return n;
  };
  const seed = int('seed');
  const sketches = int('sketches');
  if (sketches < 1) throw new Error('--sketches must be at least 1');
  const minutes = args.has('minutes') ? Number(args.get('minutes')) : undefined;
  if (minutes !== undefined && !(minutes > 0)) throw new Error('--minutes must be a positive number');
  const brk = args.get('break');
  if (brk !== undefined && brk !== 'pay-once' && brk !== 'outputs') throw new Error(`--break must be pay-once or outputs (got ${JSON.stringify(brk)})`);
  const exclude = args.get('exclude')?.split(',').filter(Boolean);
  for (const e of exclude ?? []) if (!EXCLUDABLE.includes(e)) throw new Error(`--exclude ${e}: not one of ${EXCLUDABLE.join(', ')}`);
  const intensity = args.has('intensity') ? Number(args.get('intensity')) : undefined;
  if (intensity !== undefined && !(intensity >= 0)) throw new Error('--intensity must be a number ≥ 0');
  const here = path.dirname(fileURLToPath(import.meta.url));
  return {
    options: {
      seed,
      sketches,
      ...(minutes !== undefined ? { minutes } : {}),
      ...(brk ? { break: brk } : {}),
      ...(exclude ? { exclude } : {}),
      ...(intensity !== undefined ? { intensity } : {}),
      ...(args.has('log') ? { logFile: args.get('log')! } : {}),
    },
    json: args.get('json') ?? path.join(here, 'last-run.json'),
    quiet: flags.has('quiet'),
  };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(message === 'help' ? `${USAGE}\n` : `soak: ${message}\n${USAGE}\n`);
    return message === 'help' ? 0 : 2;
  }
  const { options, json, quiet } = parsed;
  const result = await runSoak({ ...options, ...(quiet ? {} : { progress: (line: string) => process.stderr.write(`${line}\n`) }) });
  process.stdout.write(`${result.table}\n`);
  if (result.failure) process.stdout.write(`\n${result.failure}\n`);
  fs.writeFileSync(json, `${JSON.stringify({ ...result.summary, findings: result.findings.slice(0, 200) }, null, 2)}\n`);
  if (!quiet) process.stderr.write(`soak: the table as JSON is in ${path.relative(process.cwd(), json)}\n`);
  return result.exitStatus;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Keep-alive sockets or a stray timer must not hold the process open after the report.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);
