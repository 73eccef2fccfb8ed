/**
 * The user: uploads each job's sketch and sidecar at planned times, re-uploads the sketch (new
 * bytes, or the same bytes again) and edits the sidecar mid-flight, sometimes sidecar first.
 * Every upload is unique and traceable: the sketch's bytes carry an upload tag and its metadata a
 * style of its own; each sidecar (or metadata prompt) holds a prompt used nowhere else.
 */
import { STYLES } from '../../lib/contract/styles.js';
import { SKETCH_MODEL, type JobPlan, type UploadWhat } from './plan.js';
import type { MemoryBucket } from './ports/objects.js';
import { taggedJpeg, taggedPng } from './ports/png.js';
import type { Actor, Scheduler } from './scheduler.js';
import type { Versions } from './versions.js';

export function sketchKeyOf(job: Pick<JobPlan, 'jobKey' | 'format'>): string {
  return `${job.jobKey}.${job.format}`;
}

interface JobFiles {
  sketchUploads: number;
  sidecarUploads: number;
  sketch?: { etag: string; bytes: Buffer; meta: Record<string, string>; second: number };
  sidecar?: { etag: string; prompt: string; second: number };
}

export class User {
  private readonly files = new Map<string, JobFiles>();

  constructor(
    private readonly sched: Scheduler,
    private readonly bucket: MemoryBucket,
    private readonly versions: Versions,
  ) {}

  /** The user's actor: every planned upload at its time (ms after `start`). */
  start(jobs: JobPlan[], start: number): Actor {
    const uploads = jobs.flatMap((job) => job.uploads.map((u) => ({ job, ...u }))).sort((a, b) => a.at - b.at);
    return this.sched.spawn(
      'user',
      'user',
      async (actor) => {
        for (const u of uploads) {
          const wait = start + u.at - this.sched.now;
          if (wait > 0) await this.sched.sleep(actor, wait);
          await this.sched.call(actor, 'user', u.what, u.job.jobKey, () => this.upload(u.job, u.what));
        }
      },
      { system: true },
    );
  }

  /** One upload, straight into the bucket (FC hears of it through the bucket's write hook). */
  upload(job: JobPlan, what: UploadWhat): void {
    const f = this.files.get(job.jobKey) ?? { sketchUploads: 0, sidecarUploads: 0 };
    this.files.set(job.jobKey, f);
    if (what === 'sidecar') {
      f.sidecarUploads++;
      const prompt = `${job.name} prompt ${f.sidecarUploads}`;
      const fields: Record<string, unknown> = { prompt, ...(job.n > 1 ? { n: job.n } : {}), ...(job.model !== SKETCH_MODEL ? { model: job.model } : {}) };
      const body = Buffer.from(JSON.stringify(fields));
      const obj = this.bucket.write(`${job.jobKey}.json`, body, 'application/json', {}, 'user');
      f.sidecar = { etag: obj.etag, prompt, second: Math.floor(obj.lastModified / 1000) };
    } else if (what === 'sketch-same' && f.sketch) {
      // The same bytes again: a new upload (SPEC §1) unless in the same second as the last one.
      const obj = this.bucket.write(sketchKeyOf(job), f.sketch.bytes, job.format === 'png' ? 'image/png' : 'image/jpeg', f.sketch.meta, 'user');
      f.sketch = { ...f.sketch, second: Math.floor(obj.lastModified / 1000) };
    } else {
      f.sketchUploads++;
      const style = STYLES[f.sketchUploads % STYLES.length]!;
      // Only the sketch model takes a style: the others' sketches carry none (it would be an error).
      const meta: Record<string, string> = { ...(job.model === SKETCH_MODEL ? { style } : {}), ...(job.mode === 'meta' ? { prompt: `${job.name} meta ${f.sketchUploads}` } : {}) };
      const tag = `${job.jobKey} upload ${f.sketchUploads}`;
      const bytes = job.format === 'png' ? taggedPng(tag, 512, job.square ? 512 : 384) : taggedJpeg(tag, 512, job.square ? 512 : 384);
      const obj = this.bucket.write(sketchKeyOf(job), bytes, job.format === 'png' ? 'image/png' : 'image/jpeg', meta, 'user');
      f.sketch = { etag: obj.etag, bytes, meta, second: Math.floor(obj.lastModified / 1000) };
    }
    if (!f.sketch) return; // a sidecar alone is not a version yet
    this.versions.observe({
      jobKey: job.jobKey,
      sketchEtag: f.sketch.etag,
      sketchSecond: f.sketch.second,
      ...(f.sidecar ? { sidecarEtag: f.sidecar.etag, sidecarSecond: f.sidecar.second } : {}),
      ...(f.sidecar ? { prompt: f.sidecar.prompt } : f.sketch.meta.prompt ? { prompt: f.sketch.meta.prompt } : {}),
      style: f.sketch.meta.style ?? '',
      n: f.sidecar ? job.n : 1,
      at: this.sched.now,
    });
  }
}
