/**
 * Every version the user put in the bucket: each (sketch upload, sidecar upload) pair that was
 * there at some moment. Prompts are unique per sidecar (or per sketch, when the prompt rides in
 * the sketch's metadata) and each sketch upload of a job carries its own style in its metadata, so
 * (prompt, style) names exactly one version: every create can be traced to the version it was
 * sent for, and every manifest to the files it describes.
 */
export interface WorldVersion {
  /** Order of appearance across the schedule (higher = newer). */
  seq: number;
  jobKey: string;
  sketchEtag: string;
  sidecarEtag?: string;
  /** The prompt this version resolves to, if any yet. */
  prompt?: string;
  style: string;
  n: number;
  at: number;
}

export class Versions {
  private seq = 0;
  private readonly bySignature = new Map<string, WorldVersion>();
  private readonly byFiles = new Map<string, WorldVersion>();
  readonly byJob = new Map<string, WorldVersion[]>();

  /** Records the job's files as they are now; a repeat of the newest version is not a new one. */
  observe(v: Omit<WorldVersion, 'seq'>): WorldVersion {
    const list = this.byJob.get(v.jobKey) ?? [];
    const last = list[list.length - 1];
    if (last && last.sketchEtag === v.sketchEtag && last.sidecarEtag === v.sidecarEtag) return last;
    const version: WorldVersion = { ...v, seq: ++this.seq };
    list.push(version);
    this.byJob.set(v.jobKey, list);
    this.byFiles.set(filesKey(v.jobKey, v.sketchEtag, v.sidecarEtag), version);
    if (v.prompt !== undefined) this.bySignature.set(`${v.prompt}\u0000${v.style}`, version);
    return version;
  }

  /** The version a create with this prompt and style was sent for. */
  ofRequest(prompt: string, style: string): WorldVersion | undefined {
    return this.bySignature.get(`${prompt}\u0000${style}`);
  }

  ofFiles(jobKey: string, sketchEtag: string, sidecarEtag?: string): WorldVersion | undefined {
    return this.byFiles.get(filesKey(jobKey, sketchEtag, sidecarEtag));
  }

  newest(jobKey: string): WorldVersion | undefined {
    const list = this.byJob.get(jobKey);
    return list?.[list.length - 1];
  }
}

function filesKey(jobKey: string, sketchEtag: string, sidecarEtag?: string): string {
  return `${jobKey}\u0000${sketchEtag}\u0000${sidecarEtag ?? ''}`;
}
