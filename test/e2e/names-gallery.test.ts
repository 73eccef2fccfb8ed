/**
 * The local gallery (`DIR/index.html`) with sketches named as people name them — Chinese, spaces,
 * `+`, `#`, `%`, `?`, emoji, deep folders: `sketchflow local --once` processes them to SUCCEEDED,
 * and every link and image of the gallery resolves to its file (checked from the HTML, then in
 * headless Chromium, where one can be started).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserRequired, launchChromium } from '../cli/browser.js';
import { putFiles, readManifest, removeTmpDirs, runMain, tmpDir } from '../cli/helpers.js';

const JOBS: Array<{ job: string; example: string; prompt: string }> = [
  { job: '中文 草图+1', example: 'cat.png', prompt: '一只橘猫' },
  { job: '深/层/文件夹/草图 #2', example: 'boat.png', prompt: 'a paper boat' },
  { job: '100% 🐱?', example: 'teapot.png', prompt: 'a teapot' },
];

let dir: string;
let result: Awaited<ReturnType<typeof runMain>>;

beforeAll(async () => {
  dir = tmpDir('sketchflow-names-');
  for (const j of JOBS) putFiles(dir, { [`${j.job}.png`]: { example: j.example }, [`${j.job}.txt`]: j.prompt });
  result = await runMain(['local', '--once', '--dir', dir, '--task-seconds', '0.2'], { POLL_INTERVAL_SECONDS: '0.05' });
}, 60_000);

afterAll(() => removeTmpDirs());

/** The files the gallery's `src` and `href` attributes point at (relative URLs, query dropped). */
function linkedFiles(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => {
    const url = m[1]!.replace(/&amp;/g, '&').replace(/\?v=[0-9a-f]+$/, '');
    return path.join(dir, ...url.split('/').map(decodeURIComponent));
  });
}

describe('the local gallery with Chinese and other odd file names', () => {
  it('processes each to SUCCEEDED with its results next to the sketch under its own name', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const j of JOBS) {
      const m = readManifest(dir, `sketches/${j.job}`);
      expect(m?.status, j.job).toBe('SUCCEEDED');
      expect(m!.request?.prompt).toBe(j.prompt);
      expect(fs.statSync(path.join(dir, 'sketches', `${j.job}.result-1.png`)).size).toBeGreaterThan(1000);
    }
    // Their staging copies are gone, folder and all.
    expect(fs.existsSync(path.join(dir, 'sketchflow-staging'))).toBe(false);
  });

  it('the gallery has a card per sketch, and every link and image resolves to its file', () => {
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    for (const j of JOBS) expect(html).toContain(`data-job="sketches/${j.job.replace(/&/g, '&amp;')}" data-state="SUCCEEDED"`);
    const files = linkedFiles(html);
    // Per job: the sketch, one result, the manifest link.
    expect(files).toHaveLength(JOBS.length * 3);
    for (const j of JOBS) {
      for (const name of [`${j.job}.png`, `${j.job}.result-1.png`, `${j.job}.result.json`]) expect(files).toContain(path.join(dir, 'sketches', ...name.split('/')));
    }
    expect(files.filter((f) => !fs.existsSync(f))).toEqual([]);
  });

  it('renders in headless Chromium with every sketch and result image loaded', async (ctx) => {
    const launched = await launchChromium(tmpDir('sketchflow-chromium-'));
    if ('reasons' in launched) {
      const why = `no headless Chromium could be started: ${launched.reasons.join('; ')}`;
      if (browserRequired()) throw new Error(why);
      console.warn(`SKIPPED the gallery check: ${why}`);
      ctx.skip(why);
      return;
    }
    const { context } = launched;
    try {
      const page = await context.newPage();
      await page.goto(`file://${path.join(dir, 'index.html')}`, { waitUntil: 'load' });
      const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth })));
      expect(images).toHaveLength(JOBS.length * 2);
      expect(images.filter((i) => !i.complete || i.width === 0)).toEqual([]);
      const cards = await page.$$eval('article.job', (as) => as.map((a) => [a.getAttribute('data-job'), a.getAttribute('data-state')]));
      expect(cards.sort()).toEqual(JOBS.map((j) => [`sketches/${j.job}`, 'SUCCEEDED']).sort());
      expect(await page.locator('article[data-job="sketches/中文 草图+1"] .prompt').innerText()).toContain('一只橘猫');
      // The manifest link opens the manifest.
      const manifest = await context.newPage();
      const href = await page.locator('article[data-job="sketches/中文 草图+1"] .links a').getAttribute('href');
      await manifest.goto(new URL(href!, `file://${path.join(dir, 'index.html')}`).href);
      expect(JSON.parse(await manifest.locator('body').innerText()).status).toBe('SUCCEEDED');
    } finally {
      await context.close();
    }
  }, 90_000);
});
