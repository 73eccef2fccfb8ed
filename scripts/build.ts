/**
 * `npm run build`: one CommonJS bundle per function in dist/<function>/index.js, target node20,
 * the layout `s.yaml` deploys. The offline stack (lib/local) and tests must never reach a bundle:
 * the guard below fails the build if anything imports them.
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FUNCTIONS = ['submit', 'poller'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const forbidden = ['lib/local/', 'test/', 'bench/', 'soak/', 'scripts/'].map((dir) => path.join(root, dir));

/**
 * The repo's compiler options, except `alwaysStrict`: with it (implied by `strict`) esbuild starts
 * the CommonJS bundle with a file-wide "use strict", which also binds the sloppy-mode code of the
 * bundled SDKs. The tablestore SDK assigns an undeclared loop variable (`for (key in …)` in its
 * PlainBuffer builder), so every row request failed in the bundle with "key is not defined"
 * (caught by test/deploy/bundle-e2e.test.ts). Our own modules are still type-checked as strict.
 */
const tsconfigRaw = {
  compilerOptions: {
    ...(JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> }).compilerOptions,
    alwaysStrict: false,
  },
};

const noOfflineStack: Plugin = {
  name: 'no-offline-stack',
  setup(b) {
    b.onLoad({ filter: /.*/ }, (args) => {
      const hit = forbidden.find((dir) => args.path.startsWith(dir));
      if (!hit) return undefined;
      return {
        errors: [{ text: `function bundles must not include ${path.relative(root, args.path)} (offline stack or test code)` }],
      };
    });
  },
};

export interface BundleReport {
  name: FunctionName;
  file: string;
  bytes: number;
  inputs: string[];
}

/** Bundles one entry point the way Function Compute will load it. */
export async function bundle(entry: string, outfile: string): Promise<{ bytes: number; inputs: string[] }> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    plugins: [noOfflineStack],
    tsconfigRaw,
    // urllib (under ali-oss) requires proxy-agent lazily, only when an HTTP proxy is configured.
    external: ['proxy-agent'],
  });
  const output = Object.values(result.metafile.outputs)[0]!;
  return { bytes: output.bytes, inputs: Object.keys(result.metafile.inputs) };
}

export async function buildFunctions(outDir = path.join(root, 'dist')): Promise<BundleReport[]> {
  const reports: BundleReport[] = [];
  for (const name of FUNCTIONS) {
    const dir = path.join(outDir, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'index.js');
    const { bytes, inputs } = await bundle(path.join(root, 'functions', name, 'index.ts'), file);
    // Beside the code folder, not in it: `s deploy` uploads everything under dist/<fn>/.
    await writeFile(path.join(outDir, `${name}.inputs.json`), JSON.stringify(inputs, null, 1));
    reports.push({ name, file, bytes, inputs });
  }
  return reports;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const r of await buildFunctions()) {
      process.stdout.write(`${path.relative(root, r.file)}  ${(r.bytes / 1024).toFixed(0)} KiB  (${r.inputs.length} modules)\n`);
    }
  } catch (err) {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
