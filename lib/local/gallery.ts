/**
 * `DIR/index.html`: each sketch beside its results and status, so a person can look instead of
 * reading JSON. Plain HTML with relative links (it works from `file://`), regenerated as jobs
 * change; while anything is still running it reloads itself every few seconds.
 * Built from the bucket folder itself (sketches, manifests, result files) plus the live states
 * that only the running pipeline knows (queued, running, …).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { classifyKey } from '../contract/keys.js';
import type { Manifest } from '../contract/manifest.js';
import { STATE_DIR_NAME } from './stack.js';
import { bucketOf, isFinished, readManifest } from './progress.js';

export const GALLERY_FILE = 'index.html';

export interface GalleryEntry {
  jobKey: string;
  sketchKey: string;
  /** From the manifest when finished, else the live state, else 'WAITING'. */
  state: string;
  manifest?: Manifest;
  results: Array<{ index: number; key?: string; error?: { code: string; message: string } }>;
}

/** Every sketch under `prefix` in the bucket folder, with what is known about its job. */
export function galleryEntries(dir: string, prefix: string, liveState: (jobKey: string) => string | undefined = () => undefined): GalleryEntry[] {
  const sketches = new Map<string, { key: string; mtime: number }>();
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (key === STATE_DIR_NAME) continue;
      if (e.isDirectory()) {
        walk(key);
        continue;
      }
      const kind = classifyKey(key, prefix);
      if (kind.kind !== 'sketch') continue;
      const mtime = fs.statSync(path.join(dir, key), { throwIfNoEntry: false })?.mtimeMs ?? 0;
      const seen = sketches.get(kind.jobKey);
      if (!seen || mtime > seen.mtime) sketches.set(kind.jobKey, { key, mtime });
    }
  };
  walk(prefix.replace(/\/$/, ''));
  return [...sketches.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([jobKey, { key }]) => {
      const manifest = readManifest(dir, jobKey);
      const live = liveState(jobKey);
      // A live state newer than the manifest (processed again) wins until it finishes.
      const state = live && !isFinished(live) ? live : (manifest?.status ?? live ?? 'WAITING');
      const results = (manifest?.results ?? []).map((r) => ({
        index: r.index,
        ...(r.key && fs.existsSync(path.join(dir, r.key)) ? { key: r.key } : {}),
        ...(r.error ? { error: r.error } : {}),
      }));
      return { jobKey, sketchKey: key, state, ...(manifest ? { manifest } : {}), results };
    });
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** A relative URL for a key: each segment percent-encoded, so names with spaces or `#` work. */
const href = (key: string) => key.split('/').map(encodeURIComponent).join('/');

function version(dir: string, key: string): string {
  const st = fs.statSync(path.join(dir, key), { throwIfNoEntry: false });
  return st ? createHash('sha1').update(`${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 8) : '0';
}

export function renderGallery(dir: string, prefix: string, entries: GalleryEntry[], now = new Date()): string {
  const pending = entries.some((e) => !isFinished(e.state));
  const count = (b: string) => entries.filter((e) => bucketOf(e.state) === b).length;
  const img = (key: string, alt: string) => `<img src="${esc(href(key))}?v=${version(dir, key)}" alt="${esc(alt)}" loading="eager">`;
  const cards = entries.map((e) => {
    const name = e.jobKey.startsWith(prefix) ? e.jobKey.slice(prefix.length) : e.jobKey;
    const cls = bucketOf(e.state);
    const req = e.manifest?.request;
    const style = typeof req?.parameters.style === 'string' ? req.parameters.style : undefined;
    const results = e.results
      .map((r) =>
        r.key
          ? `<figure>${img(r.key, `result ${r.index} of ${name}`)}<figcaption>result ${r.index}</figcaption></figure>`
          : `<figure class="missing"><div class="none">${esc(r.error ? `${r.error.code}` : 'no image')}</div><figcaption>result ${r.index}</figcaption></figure>`,
      )
      .join('');
    const error = e.manifest?.error ?? (e.state === 'PARTIAL' ? e.results.find((r) => r.error)?.error : undefined);
    return `<article class="job ${cls}" data-job="${esc(e.jobKey)}" data-state="${esc(e.state)}">
  <header><h2>${esc(name)}</h2><span class="badge">${esc(e.state)}</span></header>
  <div class="pair"><figure>${img(e.sketchKey, `sketch ${name}`)}<figcaption>sketch · ${esc(e.sketchKey.slice(e.sketchKey.lastIndexOf('/') + 1))}</figcaption></figure><span class="arrow">→</span>${results || '<figure class="missing"><div class="none">…</div><figcaption>result</figcaption></figure>'}</div>
  ${req ? `<p class="model"><span class="model">${esc(req.model)}</span></p><p class="prompt">“${esc(req.prompt)}”${style ? ` <span class="style">${esc(style)}</span>` : ''}${typeof req.parameters.n === 'number' && req.parameters.n > 1 ? ` <span class="style">n = ${req.parameters.n}</span>` : ''}</p>` : ''}
  ${error ? `<p class="error">${esc(error.code)}: ${esc(error.message)}</p>` : ''}
  ${e.manifest ? `<p class="links"><a href="${esc(href(`${e.jobKey}.result.json`))}">manifest</a></p>` : ''}
</article>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${pending ? '<meta http-equiv="refresh" content="3">\n' : ''}<title>sketchflow — ${esc(prefix || 'bucket')}</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f4f3ef; color: #222; }
  header.top { padding: 16px 24px; background: #fff; border-bottom: 1px solid #ddd; }
  header.top h1 { margin: 0 0 4px; font-size: 20px; }
  header.top p { margin: 0; color: #666; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; padding: 16px 24px; }
  .job { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 3px rgba(0,0,0,.12); border-top: 4px solid #999; }
  .job.done { border-top-color: #2e9e5b; } .job.failed { border-top-color: #d0453a; }
  .job.inFlight, .job.queued { border-top-color: #e0a526; } .job.waiting { border-top-color: #8a8ad8; }
  .job header { display: flex; justify-content: space-between; align-items: center; }
  .job h2 { margin: 0; font-size: 17px; word-break: break-all; }
  .badge { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 10px; background: #eee; }
  .done .badge { background: #dff3e6; color: #1d6b3d; } .failed .badge { background: #fbe1de; color: #9b2a21; }
  .pair { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin: 10px 0 6px; }
  figure { margin: 0; text-align: center; }
  figure img, .none { width: 200px; height: 200px; object-fit: contain; background: #fafafa; border: 1px solid #e4e4e4; border-radius: 4px; display: block; }
  .none { display: flex; align-items: center; justify-content: center; color: #999; font-size: 13px; }
  figcaption { font-size: 12px; color: #777; }
  .arrow { font-size: 24px; color: #aaa; }
  p.model { margin: 4px 0 0; } span.model { font-size: 12px; font-family: ui-monospace, monospace; background: #f1ece0; border-radius: 4px; padding: 1px 5px; }
  .prompt { margin: 4px 0; } .style { font-size: 12px; background: #eef; border-radius: 4px; padding: 1px 5px; }
  .error { margin: 4px 0; color: #9b2a21; font-family: ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; }
  .links { margin: 4px 0 0; font-size: 13px; }
</style>
</head>
<body>
<header class="top"><h1>sketchflow</h1>
<p>${entries.length} sketch${entries.length === 1 ? '' : 'es'} in <code>${esc(prefix || '/')}</code> · ${count('done')} done · ${count('failed')} failed · ${entries.length - count('done') - count('failed')} in progress · updated ${esc(now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</p></header>
<main>
${cards.join('\n') || '<p>No sketches yet: drop a drawing and a prompt file into the folder.</p>'}
</main>
</body>
</html>
`;
}

/** Writes `DIR/index.html` atomically (temp file in the state folder, then rename). */
export function writeGallery(dir: string, prefix: string, liveState?: (jobKey: string) => string | undefined): string {
  const html = renderGallery(dir, prefix, galleryEntries(dir, prefix, liveState));
  const tmpDir = path.join(dir, STATE_DIR_NAME, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, `gallery-${randomBytes(6).toString('hex')}.html`);
  fs.writeFileSync(tmp, html);
  const file = path.join(dir, GALLERY_FILE);
  fs.renameSync(tmp, file);
  return file;
}

/** Regenerates the gallery shortly after changes (coalescing bursts), and on demand. */
export class GalleryWriter {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly liveState: (jobKey: string) => string | undefined,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly delayMs = 200,
  ) {}

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeNow();
    }, this.delayMs);
  }

  writeNow(): string | undefined {
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      return writeGallery(this.dir, this.prefix, this.liveState);
    } catch (err) {
      this.onError(err);
      return undefined;
    }
  }
}
