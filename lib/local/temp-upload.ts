/**
 * Local mode with the real model (`sketchflow local --dashscope real`): DashScope cannot fetch a
 * sketch from a loopback presigned URL, so before each create the sketch is sent through
 * DashScope's temporary upload (docs/reference/dashscope.md §4):
 *
 *   GET {base}/uploads?action=getPolicy&model=…  →  form POST to upload_host  →  oss://<key>
 *
 * and the task is created with that `oss://` URL and `X-DashScope-OssResourceResolve: enable`.
 *
 * It is an ImageModel decorator, injected only by local mode (RuntimeOptions.wrapModel): the core
 * still presigns the sketch exactly as in production (with the normalization in `x-oss-process`,
 * which the loopback OSS applies), and this layer reads those bytes and re-hosts them. Failures
 * before the create are reported like refused creates — nothing was created, so the job goes back
 * to the queue (transient) or ends with the error (a 4xx from the service).
 */
import { randomUUID } from 'node:crypto';
import { LEGACY_MODEL } from '../models/index.js';
import { ModelError, TransportError } from '../errors.js';
import type { CreateTaskInput, ImageModel } from '../core/ports.js';
import { redact } from '../redact.js';

export interface TemporaryUploadSettings {
  apiKey: string;
  baseUrl: string;
  workspace?: string;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

/** What `getPolicy` hands out (the fields the official SDKs read). */
export interface UploadPolicy {
  policy: string;
  signature: string;
  upload_dir: string;
  upload_host: string;
  oss_access_key_id: string;
  x_oss_object_acl: string;
  x_oss_forbid_overwrite: string;
  max_file_size_mb?: number;
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/tiff': 'tiff', 'image/bmp': 'bmp' };

export function withTemporaryUploads(inner: ImageModel, settings: TemporaryUploadSettings): ImageModel {
  const uploader = new TemporaryUploader(settings);
  return {
    async createTask(input: CreateTaskInput, options) {
      if (input.sketchUrl.startsWith('oss://')) return inner.createTask({ ...input, ossResourceResolve: true }, options);
      // The temporary upload is made for the model that will read it (getPolicy takes the model).
      const sketchUrl = await uploader.rehost(input.sketchUrl, input.model);
      return inner.createTask({ ...input, sketchUrl, ossResourceResolve: true }, options);
    },
    getTask: (taskId) => inner.getTask(taskId),
    cancelTask: (taskId) => inner.cancelTask(taskId),
    listLiveTasks: () => inner.listLiveTasks(),
    downloadResult: (url) => inner.downloadResult(url),
  };
}

export class TemporaryUploader {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly settings: TemporaryUploadSettings) {
    this.base = settings.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = settings.timeoutMs ?? 30_000;
  }

  /** Reads the sketch at `url` (loopback) and returns the `oss://` URL of a temporary copy. */
  async rehost(url: string, model = LEGACY_MODEL): Promise<string> {
    const sketch = await this.read(url);
    const policy = await this.getPolicy(model);
    if (policy.max_file_size_mb && sketch.bytes.length > policy.max_file_size_mb * 1024 * 1024) {
      throw new ModelError('InvalidFile.Size', `the sketch (${sketch.bytes.length} bytes) is larger than the temporary upload allows (${policy.max_file_size_mb} MB)`, 400);
    }
    return this.upload(policy, sketch.bytes, sketch.contentType);
  }

  async getPolicy(model = LEGACY_MODEL): Promise<UploadPolicy> {
    const url = `${this.base}/uploads?action=getPolicy&model=${encodeURIComponent(model)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: {
          authorization: `Bearer ${this.settings.apiKey}`,
          accept: 'application/json',
          ...(this.settings.workspace ? { 'x-dashscope-workspace': this.settings.workspace } : {}),
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TransportError('dashscope', redact(`temporary upload policy: ${describe(err)}`), false, { cause: err });
    }
    const text = await res.text().catch(() => '');
    let body: { data?: Partial<UploadPolicy>; code?: string; message?: string; request_id?: string } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: reported below with the status
    }
    if (res.status !== 200) {
      throw new ModelError(body.code ?? `HTTP${res.status}`, redact(`temporary upload policy: ${body.message ?? text.slice(0, 200)}`), res.status, body.request_id);
    }
    const d = body.data;
    if (!d?.policy || !d.signature || !d.upload_dir || !d.upload_host || !d.oss_access_key_id) {
      throw new TransportError('dashscope', 'temporary upload policy: the reply has no usable policy', false);
    }
    return {
      policy: d.policy,
      signature: d.signature,
      upload_dir: d.upload_dir,
      upload_host: d.upload_host,
      oss_access_key_id: d.oss_access_key_id,
      x_oss_object_acl: d.x_oss_object_acl ?? 'private',
      x_oss_forbid_overwrite: d.x_oss_forbid_overwrite ?? 'true',
      ...(d.max_file_size_mb ? { max_file_size_mb: d.max_file_size_mb } : {}),
    };
  }

  /** The form upload the official SDKs send (OssUtils.upload); returns `oss://<key>`. */
  async upload(policy: UploadPolicy, bytes: Buffer, contentType: string): Promise<string> {
    // ASCII only: the service refuses non-ASCII characters in image URLs.
    const key = `${policy.upload_dir}/sketch-${randomUUID()}.${EXT[contentType] ?? 'png'}`;
    const form = new FormData();
    const fields: Array<[string, string]> = [
      ['OSSAccessKeyId', policy.oss_access_key_id],
      ['Signature', policy.signature],
      ['policy', policy.policy],
      ['key', key],
      ['x-oss-object-acl', policy.x_oss_object_acl],
      ['x-oss-forbid-overwrite', policy.x_oss_forbid_overwrite],
      ['success_action_status', '200'],
      ['x-oss-content-type', contentType],
    ];
    for (const [k, v] of fields) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), key.slice(key.lastIndexOf('/') + 1)); // the file goes last
    let res: Response;
    try {
      res = await fetch(policy.upload_host, { method: 'POST', body: form, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new TransportError('dashscope', redact(`temporary upload: ${describe(err)}`), false, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 300) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${res.status}`;
      const message = /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
      if (res.status >= 500) throw new TransportError('dashscope', `temporary upload: ${code}: ${message}`, false);
      throw new ModelError(`TemporaryUpload.${code}`, `temporary upload refused: ${message}`, res.status);
    }
    return `oss://${key}`;
  }

  private async read(url: string): Promise<{ bytes: Buffer; contentType: string }> {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new TransportError('oss', redact(`reading the sketch for the temporary upload: ${describe(err)}`), false, { cause: err });
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) {
      const code = /<Code>([^<]+)<\/Code>/.exec(bytes.toString('utf8'))?.[1] ?? `HTTP${res.status}`;
      if (res.status >= 500) throw new TransportError('oss', `reading the sketch for the temporary upload: ${code}`, false);
      throw new ModelError(`InvalidParameter.DataInspection`, `the sketch could not be read for the temporary upload (${res.status} ${code})`, 400);
    }
    const contentType = (res.headers.get('content-type') ?? 'image/png').split(';')[0]!.trim().toLowerCase();
    return { bytes, contentType };
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return [e?.message ?? String(err), e?.cause?.code ?? e?.cause?.message].filter(Boolean).join(': ');
}
