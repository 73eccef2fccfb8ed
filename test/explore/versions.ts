/**
 * Every version the user put in the bucket: each (sketch upload, sidecar upload) pair that was
 * there at some moment; an upload is its ETag and its Last-Modified second (SPEC §1: identical
 * bytes uploaded again are a new version, unless within the same second). Prompts are unique per
 * sidecar (or per sketch, when the prompt rides in the sketch's metadata) and each new sketch of a
 * job carries its own style, so (prompt, style) names one version, or a run of versions that only
 * re-uploaded the same bytes: a create is traced to the newest of them already there when it was
 * sent, and every manifest to the files it describes.
 */
export interface WorldVersion {
  /** Order of appearance across the schedule (higher = newer). */
  seq: number;
  jobKey: string;
  sketchEtag: string;
  sketchSecond: number;
  sidecarEtag?: string;
  sidecarSecond?: number;
  /** The prompt this version resolves to, if any yet. */
  prompt?: string;
  style: string;
  n: number;
  at: number;
}

export class Versions {
  private seq = 0;
  private readonly bySignature = new Map<string, WorldVersion[]>();
  private readonly byFiles = new Map<string, WorldVersion>();
  readonly byJob = new Map<string, WorldVersion[]>();

  /** Records the job's files as they are now; a repeat of the newest version is not a new one. */
  observe(v: Omit<WorldVersion, 'seq'>): WorldVersion {
    const list = this.byJob.get(v.jobKey) ?? [];
    const last = list[list.length - 1];
    if (last && last.sketchEtag === v.sketchEtag && last.sidecarEtag === v.sidecarEtag && last.sketchSecond === v.sketchSecond && last.sidecarSecond === v.sidecarSecond) return last;
    const version: WorldVersion = { ...v, seq: ++this.seq };
    list.push(version);
    this.byJob.set(v.jobKey, list);
    this.byFiles.set(filesKey(v.jobKey, v.sketchEtag, v.sidecarEtag), version);
    if (v.prompt !== undefined) {
      const signature = `${v.prompt}\u0000${v.style}`;
      this.bySignature.set(signature, [...(this.bySignature.get(signature) ?? []), version]);
    }
    return version;
  }

  /** The version a create with this prompt and style, sent at `sentAt`, was sent for. */
  ofRequest(prompt: string, style: string, sentAt = Infinity): WorldVersion | undefined {
    const candidates = this.bySignature.get(`${prompt}\u0000${style}`) ?? [];
    return candidates.filter((v) => v.at <= sentAt).at(-1) ?? candidates[0];
  }

  /** The version of these files; with the uploads' seconds (a manifest's lastModified), exactly that one. */
  /**
   * The versions that send the very same request as `v` (identical bytes uploaded again, in other
   * seconds): a create of theirs cannot be told apart by the request alone.
   */
  runOf(v: WorldVersion): WorldVersion[] {
    return v.prompt === undefined ? [v] : (this.bySignature.get(`${v.prompt}\u0000${v.style}`) ?? [v]);
  }

  ofFiles(jobKey: string, sketchEtag: string, sidecarEtag?: string, seconds?: { sketch?: number; sidecar?: number }): WorldVersion | undefined {
    const newest = this.byFiles.get(filesKey(jobKey, sketchEtag, sidecarEtag));
    if (!seconds?.sketch) return newest;
    const exact = (this.byJob.get(jobKey) ?? []).filter(
      (v) => v.sketchEtag === sketchEtag && v.sidecarEtag === sidecarEtag && v.sketchSecond === seconds.sketch && (seconds.sidecar === undefined || v.sidecarSecond === seconds.sidecar),
    );
    return exact.at(-1) ?? newest;
  }

  newest(jobKey: string): WorldVersion | undefined {
    const list = this.byJob.get(jobKey);
    return list?.[list.length - 1];
  }
}

function filesKey(jobKey: string, sketchEtag: string, sidecarEtag?: string): string {
  return `${jobKey}\u0000${sketchEtag}\u0000${sidecarEtag ?? ''}`;
}
