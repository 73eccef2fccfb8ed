/**
 * `npm run build`: one CommonJS bundle per function in dist/<function>/index.js, target node20,
 * the layout `s.yaml` deploys. Each code folder describes itself with its own package.json
 * (`"type": "commonjs"`), so index.js loads the same under the repository's `"type": "module"`, in
 * a test and in Function Compute. The offline stack (lib/local) and tests must never reach a
 * bundle: the guard below fails the build if anything imports them. What keeps the bundles small
 * (issue 17: at most 1.5 MiB per folder) is in slim-sdks.ts.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { slimSdks } from './slim-sdks.js';

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

/** Issue 17's ceiling for one function's code folder, everything Function Compute loads from it. */
export const BUNDLE_LIMIT_BYTES = 1.5 * 1024 * 1024;

export interface BundleReport {
  name: FunctionName;
  /** The code folder (s.yaml `code`). */
  dir: string;
  file: string;
  /** Every file in the code folder: what is uploaded and what a sketch event may load. */
  bytes: number;
  files: string[];
  inputs: string[];
  /** Per file of the folder: what it requires at run time from outside itself. */
  externals: Record<string, string[]>;
}

/** The code folder's package.json: CommonJS, whatever the package around it says. */
export function codeFolderPackage(name: FunctionName) {
  return { name: `sketchflow-${name}`, private: true, type: 'commonjs', main: 'index.js' };
}

/**
 * The SDKs, each bundled into a file of its own in the code folder and required on first use
 * (issue 17): the function's index.js holds our code and zod, what every invocation runs, and a
 * fresh instance compiles the rest only when a call needs it (no SDK at all for a submit of an
 * output; the FC client only for a kick). A file may carry several packages that share
 * dependencies, so that one copy of each runs (openapi-core's Config is what the FC client takes).
 */
export const SDK_FILES: Readonly<Record<string, readonly string[]>> = {
  'sdk-tablestore.js': ['tablestore'],
  'sdk-oss.js': ['ali-oss'],
  'sdk-undici.js': ['undici'],
  'sdk-fc.js': ['@alicloud/fc20230330', '@alicloud/openapi-core'],
};

const sdkFileOf = (pkg: string) => Object.entries(SDK_FILES).find(([, pkgs]) => pkgs.includes(pkg))?.[0];

/** In index.js: an SDK import becomes `require('./sdk-….js')[package]`. */
const sdkFiles: Plugin = {
  name: 'sdk-files',
  setup(b) {
    const names = Object.values(SDK_FILES).flat();
    const filter = new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (args) => (args.importer.includes(`${path.sep}node_modules${path.sep}`) ? undefined : { path: args.path, namespace: 'sdk-file' }));
    b.onResolve({ filter: /^\.\/sdk-[\w-]+\.js$/, namespace: 'sdk-file' }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'sdk-file' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./${sdkFileOf(args.path)}`)})[${JSON.stringify(args.path)}];`,
      loader: 'js',
    }));
  },
};

const common: BuildOptions & { metafile: true } = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  // Error and SDK classes keep their names (logs, `err.name`, code that reads constructor.name).
  keepNames: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'silent',
  tsconfigRaw,
};

/**
 * Bundles one entry point the way Function Compute will load it: `outfile`, and beside it the SDK
 * files it requires. `bytes` and `inputs` cover all of them.
 */
export async function bundle(entry: string, outfile: string): Promise<{ bytes: number; inputs: string[]; sdkFiles: string[]; externals: Record<string, string[]> }> {
  const main = await build({ ...common, entryPoints: [entry], outfile, plugins: [noOfflineStack, sdkFiles] });
  // The modules that put code into the files (tree shaking drops the others esbuild read).
  const inputsOf = (output: { inputs: Record<string, { bytesInOutput: number }> }) => Object.keys(output.inputs).filter((i) => output.inputs[i]!.bytesInOutput > 0);
  const inputs = inputsOf(Object.values(main.metafile.outputs)[0]!);
  // What each file requires at run time from outside itself (Node built-ins, SDK files, optional packages).
  const externalsOf = (output: { imports: Array<{ path: string; external?: boolean }> }) => [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort();
  const externals: Record<string, string[]> = { [path.basename(outfile)]: externalsOf(Object.values(main.metafile.outputs)[0]!) };
  const used = [...new Set(Object.keys(main.metafile.inputs).filter((i) => i.startsWith('sdk-file:')).map((i) => sdkFileOf(i.slice('sdk-file:'.length))!))].sort();
  let bytes = Object.values(main.metafile.outputs)[0]!.bytes;
  for (const file of used) {
    const pkgs = SDK_FILES[file]!;
    const sdk = await build({
      ...common,
      stdin: { contents: `module.exports = { ${pkgs.map((p) => `${JSON.stringify(p)}: require(${JSON.stringify(p)})`).join(', ')} };`, resolveDir: root, sourcefile: file, loader: 'js' },
      outfile: path.join(path.dirname(outfile), file),
      plugins: [noOfflineStack, slimSdks],
    });
    bytes += Object.values(sdk.metafile.outputs)[0]!.bytes;
    externals[file] = externalsOf(Object.values(sdk.metafile.outputs)[0]!);
    inputs.push(...inputsOf(Object.values(sdk.metafile.outputs)[0]!).filter((i) => !inputs.includes(i)));
  }
  return { bytes, inputs, sdkFiles: used, externals };
}

export async function buildFunctions(outDir = path.join(root, 'dist')): Promise<BundleReport[]> {
  const reports: BundleReport[] = [];
  for (const name of FUNCTIONS) {
    const dir = path.join(outDir, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'index.js');
    const { inputs, externals } = await bundle(path.join(root, 'functions', name, 'index.ts'), file);
    await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(codeFolderPackage(name), null, 2)}\n`);
    // Beside the code folder, not in it: `s deploy` uploads everything under dist/<fn>/.
    await writeFile(path.join(outDir, `${name}.inputs.json`), JSON.stringify(inputs, null, 1));
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
    const bytes = (await Promise.all(files.map(async (f) => (await stat(path.join(dir, f))).size))).reduce((a, b) => a + b, 0);
    reports.push({ name, dir, file, bytes, files: files.sort(), inputs, externals });
  }
  return reports;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const r of await buildFunctions()) {
      process.stdout.write(`${path.relative(root, r.dir)}/  ${(r.bytes / 1024).toFixed(0)} KiB in ${r.files.join(', ')}  (${r.inputs.length} modules; limit ${BUNDLE_LIMIT_BYTES / 1024} KiB)\n`);
    }
  } catch (err) {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
