/**
 * Runs `sketchflow` as a user would: a child process (`node bin/sketchflow.mjs …`), its output
 * collected, waited on by condition with a deadline, and always killed at the end (`killAll`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, type CliIo } from '../../lib/cli/index.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

/** A job's manifest in a bucket folder, or undefined while there is none (or it does not parse). */
export { readManifest } from '../../lib/local/progress.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const EXAMPLES = path.join(ROOT, 'examples/sketches');

/** Settings for quick runs: tasks of a fraction of a second, polling to match. */
export const FAST_ENV = { POLL_INTERVAL_SECONDS: '0.05' };

export interface Cli {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the exit code (a signal counts as null). */
  exited: Promise<number | null>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const children = new Set<ChildProcess>();

/** A clean environment: none of the developer's SPEC §6 or cloud settings leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

export function sketchflow(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Cli {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/sketchflow.mjs'), ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    notify();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    notify();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      children.delete(child);
      notify();
      resolve(code);
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    // 60 s: a child starting on a busy machine (first run, TypeScript compiled on load) is slow.
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = stdout.match(pattern);
          if (m) {
            done();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs to the end; rejects if it takes longer than `timeoutMs`. */
export async function run(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}) {
  const cli = sketchflow(args, options);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    cli.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        cli.child.kill('SIGKILL');
        reject(new Error(`sketchflow ${args.join(' ')} did not finish in ${options.timeoutMs ?? 30_000} ms\nstdout:\n${cli.stdout}\nstderr:\n${cli.stderr}`));
      }, options.timeoutMs ?? 30_000);
    }),
  ]).finally(() => clearTimeout(timer));
  return { code, stdout: cli.stdout, stderr: cli.stderr, ms: Date.now() - started };
}

export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}

const tmpDirs: string[] = [];
export function tmpDir(name = 'sketchflow-cli-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), name));
  tmpDirs.push(d);
  return d;
}
export function removeTmpDirs(): void {
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** test/helpers/wait.ts's waitFor with the pace of a child process: every 50 ms, 20 s by default. */
export function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  return waitUntil(what, check, { timeoutMs, everyMs: 50 });
}

/** main() in this process (not a child), its output captured; never interrupted. */
export async function runMain(argv: string[], env: CliIo['env'] = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env, interrupted: () => new Promise<void>(() => {}) };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Puts files into a bucket folder's sketches/ (copies of the examples, or given contents). */
export function putFiles(dir: string, files: Record<string, string | Buffer | { example: string }>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, 'sketches', name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'object' && !Buffer.isBuffer(content)) fs.copyFileSync(path.join(EXAMPLES, content.example), file);
    else fs.writeFileSync(file, content);
  }
}
