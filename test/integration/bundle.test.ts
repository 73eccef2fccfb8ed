/**
 * Production bundles must never contain the offline stack or test code (issue 2, 7): the build
 * refuses such an import, and the real bundles list none among their inputs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, buildFunctions, type BundleReport } from '../../scripts/build.js';

describe('function bundles', () => {
  let out: string;
  let reports: BundleReport[];

  beforeAll(async () => {
    out = await mkdtemp(path.join(os.tmpdir(), 'sketchflow-build-'));
    reports = await buildFunctions(out);
  }, 120_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('builds one CommonJS bundle per function that exports handler', async () => {
    expect(reports.map((r) => r.name)).toEqual(['submit', 'poller']);
    for (const r of reports) {
      const { createRequire } = await import('node:module');
      const mod = createRequire(import.meta.url)(r.file) as { handler?: unknown };
      expect(typeof mod.handler).toBe('function');
    }
  });

  it('contains no emulator, simulator or test code', () => {
    for (const r of reports) {
      const offending = r.inputs.filter((i) => /(^|\/)(lib\/local|test|bench|soak|scripts)\//.test(i) && !i.includes('node_modules'));
      expect(offending).toEqual([]);
    }
  });

  it('refuses to build an entry that imports the offline stack', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const entry = path.join(root, 'functions', `.guard-probe-${process.pid}.ts`);
    await writeFile(entry, "export { CredentialStore } from '../lib/local/credentials.js';\n");
    try {
      await expect(bundle(entry, path.join(out, 'probe.js'))).rejects.toThrow(/must not include lib\/local\/credentials\.ts/);
    } finally {
      await rm(entry, { force: true });
    }
  });
});
