/**
 * Production bundles must never contain the offline stack or test code (issue 2, 7): the build
 * refuses such an import, and the real bundles list none among their inputs. Each code folder
 * describes itself (issue 15) and stays within issue 17's size; the SDK code scripts/slim-sdks.ts
 * cuts stays out (test/deploy/bundle-e2e.test.ts proves the bundles still run without it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_LIMIT_BYTES, bundle, buildFunctions, SDK_FILES, type BundleReport } from '../../scripts/build.js';
import { UNDICI_KEPT } from '../../scripts/slim-sdks.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('function bundles', () => {
  let out: string;
  let reports: BundleReport[];

  beforeAll(async () => {
    // Inside a `"type": "module"` package, as dist/ sits in the repository.
    const parent = await mkdtemp(path.join(os.tmpdir(), 'sketchflow-build-'));
    await writeFile(path.join(parent, 'package.json'), JSON.stringify({ name: 'around', type: 'module' }));
    out = path.join(parent, 'dist');
    reports = await buildFunctions(out);
  }, 120_000);

  afterAll(async () => {
    await rm(path.dirname(out), { recursive: true, force: true });
  });

  it('builds one CommonJS bundle per function that exports handler', async () => {
    expect(reports.map((r) => r.name)).toEqual(['submit', 'poller']);
    for (const r of reports) {
      const mod = createRequire(import.meta.url)(r.file) as { handler?: unknown };
      expect(typeof mod.handler).toBe('function');
    }
  });

  it('each code folder says it is CommonJS, so a fresh node loads it the same inside a "type": "module" package', async () => {
    for (const r of reports) {
      expect(JSON.parse(await readFile(path.join(r.dir, 'package.json'), 'utf8'))).toMatchObject({ type: 'commonjs', main: 'index.js' });
      // `node -e "require('./dist/submit')"`, from the package around it.
      const exported = execFileSync(process.execPath, ['-e', `console.log(Object.keys(require('./dist/${r.name}')).join())`], { cwd: path.dirname(out), encoding: 'utf8' });
      expect(exported.trim().split(',')).toContain('handler');
    }
  });

  it(`each code folder, every file counted, is at most ${BUNDLE_LIMIT_BYTES / 1024 / 1024} MiB`, async () => {
    for (const r of reports) {
      const files = (await readdir(r.dir)).sort();
      expect(r.files).toEqual(files);
      expect(files).toEqual(['index.js', 'package.json', ...Object.keys(SDK_FILES)].sort());
      const sizes = await Promise.all(files.map(async (f) => (await stat(path.join(r.dir, f))).size));
      expect(r.bytes).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(r.bytes, `${r.name}: ${r.bytes} bytes`).toBeLessThanOrEqual(BUNDLE_LIMIT_BYTES);
    }
  });

  it('requires from outside its code folder only Node built-ins', () => {
    // Anything else would load wherever a copy happens to be installed and fail elsewhere
    // (optional packages are bundled as absent: ABSENT_PACKAGES in slim-sdks.ts).
    for (const r of reports) {
      expect(Object.keys(r.externals).sort()).toEqual(r.files.filter((f) => f.endsWith('.js')));
      for (const [file, ids] of Object.entries(r.externals)) {
        const sdkFiles = file === 'index.js' ? Object.keys(SDK_FILES).map((f) => `./${f}`) : [];
        expect(ids.filter((id) => !isBuiltin(id) && !id.startsWith('node:') && !sdkFiles.includes(id)), `${r.name}/${file}`).toEqual([]);
      }
    }
  });

  it('leaves out the SDK code slim-sdks.ts cuts (a regression shows here first)', () => {
    const cut = [
      /tablestore\/lib\/protocol\/tablestore_compiled_proto\.js$/, // replaced by its .proto on protobufjs/light
      /node_modules\/iconv-lite\//,
      /node_modules\/(ws|moment|xmlbuilder|socks|https-proxy-agent)\//,
      /node_modules\/lodash\/lodash\.js$/,
      /node_modules\/undici\/lib\/(web\/fetch\/index\.js|web\/(websocket|cache|eventsource|cookies)\/|mock\/|cache\/)/,
      /^node_modules\/@alicloud\/fc20230330\/dist\/models\/(?!InvokeFunction)/,
      // `import { z } from 'zod'` pulls every locale in; `import * as z` lets esbuild shake them.
      /node_modules\/zod\/v4\/locales\/(?!en\.js|index\.js)/,
    ];
    for (const r of reports) {
      for (const re of cut) expect(r.inputs.filter((i) => re.test(i)), `${r.name}: ${re}`).toEqual([]);
    }
  });

  it('our bundled modules import from undici only what the bundles keep', async () => {
    const ours = [...new Set(reports.flatMap((r) => r.inputs))].filter((i) => /^(lib|functions)\/.*\.ts$/.test(i));
    expect(ours).toContain('lib/adapters/dashscope.ts');
    for (const file of ours) {
      const code = await readFile(path.join(root, file), 'utf8');
      for (const m of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'undici'/g)) {
        // `{ Agent, errors as undiciErrors, type Dispatcher }` → Agent, errors
        const names = m[1]!.split(',').map((n) => n.trim().split(/\s+/)).filter((w) => w[0] && w[0] !== 'type').map((w) => w[0]!);
        expect(names.filter((n) => !UNDICI_KEPT.includes(n)), `${file} imports from undici`).toEqual([]);
      }
      expect(code, `${file}: a default or namespace import of undici hides what it uses`).not.toMatch(/import\s+(?!type\b)[\w*][^{]*from\s*'undici'/);
    }
  });

  it('contains no emulator, simulator or test code', () => {
    for (const r of reports) {
      const offending = r.inputs.filter((i) => /(^|\/)(lib\/local|test|bench|soak|scripts)\//.test(i) && !i.includes('node_modules'));
      expect(offending).toEqual([]);
    }
  });

  it('refuses to build an entry that imports the offline stack', async () => {
    const entry = path.join(root, 'functions', `.guard-probe-${process.pid}.ts`);
    await writeFile(entry, "export { CredentialStore } from '../lib/local/credentials.js';\n");
    try {
      await expect(bundle(entry, path.join(out, 'probe.js'))).rejects.toThrow(/must not include lib\/local\/credentials\.ts/);
    } finally {
      await rm(entry, { force: true });
    }
  });
});

