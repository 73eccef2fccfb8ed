/**
 * A headless Chromium for the gallery check, found without any install step beyond `npm install`:
 *   1. SKETCHFLOW_CHROMIUM, a path to a Chromium or Chrome binary, if set;
 *   2. the headless Chromium the devDependency @sparticuz/chromium ships inside its npm package
 *      (Linux x64; brotli-compressed, unpacked once into node_modules/.cache; the libraries it
 *      needs from the package too when the machine lacks them);
 *   3. one found on the machine (Debian's /usr/bin/chromium and the like).
 * Each candidate must really start. When none does, the caller skips with the reasons, unless
 * SKETCHFLOW_REQUIRE_BROWSER=1 (.ci/run sets it), where a missing browser fails the test.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium, type BrowserContext } from 'playwright-core';

/** What headless Chromium needs on this kind of machine (no GPU, no network, a fresh profile). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  /** Where it came from, for the test log. */
  source: string;
  executablePath: string;
  /** Extra environment (the bundled libraries' directory), if any. */
  env?: Record<string, string>;
}

const SYSTEM_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The package directory of @sparticuz/chromium, or undefined when it is not installed. */
function sparticuzDir(): string | undefined {
  try {
    let dir = path.dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium'));
    while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'bin'))) {
      const up = path.dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
    return dir;
  } catch {
    return undefined;
  }
}

/** Brotli-decompresses `from` to `to` once; a half-written file is never seen (write, then rename). */
function unpackOnce(from: string, to: string, mode?: number): void {
  if (fs.existsSync(to)) return;
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = `${to}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, zlib.brotliDecompressSync(fs.readFileSync(from)), mode === undefined ? {} : { mode });
  fs.renameSync(tmp, to);
}

/** Shared libraries the binary needs that the machine does not have (ldd's "not found" lines). */
function missingLibraries(binary: string, env?: Record<string, string>): string[] {
  try {
    const out = execFileSync('ldd', [binary], { encoding: 'utf8', env: { ...process.env, ...env } });
    return out.split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(' ')[0]!);
  } catch {
    return []; // no ldd: let the launch tell
  }
}

function fromNpmPackage(): Browser | string {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `@sparticuz/chromium ships Linux x64 only (this is ${process.platform} ${process.arch})`;
  const dir = sparticuzDir();
  if (!dir) return '@sparticuz/chromium is not installed (npm install installs it: it is a devDependency)';
  const version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const cache = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'sketchflow-chromium', version);
  const binary = path.join(cache, 'chromium');
  unpackOnce(path.join(dir, 'bin', 'chromium.br'), binary, 0o755);
  if (missingLibraries(binary).length === 0) return { source: `@sparticuz/chromium ${version}`, executablePath: binary };
  // The package carries the NSS/NSPR/expat libraries it was built against (for Amazon Linux 2023).
  const libs = path.join(cache, 'al2023');
  if (!fs.existsSync(path.join(libs, 'lib'))) {
    const tar = path.join(cache, 'al2023.tar');
    unpackOnce(path.join(dir, 'bin', 'al2023.tar.br'), tar);
    fs.mkdirSync(libs, { recursive: true });
    execFileSync('tar', ['-xf', tar, '-C', libs]);
    fs.rmSync(tar);
  }
  const env = { LD_LIBRARY_PATH: [path.join(libs, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const still = missingLibraries(binary, env);
  if (still.length > 0) return `@sparticuz/chromium ${version} needs libraries this machine lacks: ${still.join(', ')}`;
  return { source: `@sparticuz/chromium ${version} (with its own libraries)`, executablePath: binary, env };
}

function fromMachine(): Browser | string {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/bin')) {
    for (const name of SYSTEM_BROWSERS) {
      const file = path.join(dir, name);
      if (fs.existsSync(file)) return { source: `the machine's ${file}`, executablePath: file };
    }
  }
  return `no ${SYSTEM_BROWSERS.join('/')} on PATH`;
}

/** Candidates in order of preference, each a browser or the reason it is not available. */
export function browserCandidates(): Array<Browser | string> {
  const explicit = process.env.SKETCHFLOW_CHROMIUM;
  if (explicit) return [fs.existsSync(explicit) ? { source: `SKETCHFLOW_CHROMIUM=${explicit}`, executablePath: explicit } : `SKETCHFLOW_CHROMIUM=${explicit} does not exist`];
  const candidates: Array<Browser | string> = [];
  for (const find of [fromNpmPackage, fromMachine]) {
    try {
      candidates.push(find());
    } catch (err) {
      candidates.push(`${find.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return candidates;
}

/** The first candidate that starts, as a persistent context on `userDataDir`; or why none did. */
export async function launchChromium(userDataDir: string): Promise<{ context: BrowserContext; browser: Browser } | { reasons: string[] }> {
  const reasons: string[] = [];
  for (const candidate of browserCandidates()) {
    if (typeof candidate === 'string') {
      reasons.push(candidate);
      continue;
    }
    try {
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: candidate.executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        ...(candidate.env ? { env: { ...process.env, ...candidate.env } as Record<string, string> } : {}),
        timeout: 30_000,
      });
      return { context, browser: candidate };
    } catch (err) {
      reasons.push(`${candidate.source} did not start: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    }
  }
  return { reasons };
}

/** CI must run the browser check: there, no browser is a failure, not a skip. */
export const browserRequired = (): boolean => process.env.SKETCHFLOW_REQUIRE_BROWSER === '1';
