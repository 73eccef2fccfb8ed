/**
 * Temporary file upload (dashscope.md §4, "get temporary file URL"): `getPolicy` hands out an OSS
 * PostObject policy for a fresh `dashscope-instant/…` directory; the form upload is checked like
 * OSS checks PostObject (signature, expiry, key prefix, size, no overwrite); the file is then
 * addressable as `oss://<key>` for 48 h (simulated), only by the same account and the model named
 * when the policy was issued. This is how `--dashscope real` sends local sketches, tested here.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { safeEqual } from './auth.js';
import { beijingDate } from './clock.js';
import { TASK } from './errors.js';
import { ossFailure, type Reply } from './http.js';
import type { Records } from './records.js';
import type { Failure, OssObjectResolver } from './sketch.js';

export const UPLOAD_PATH = '/dashscope-file';
const BUCKET = 'dashscope-file-mgr';
const HOST_ID = `${BUCKET}.oss-cn-beijing.aliyuncs.com`;

export interface UploadOptions {
  /** Policy lifetime in simulated seconds (the service says 300). */
  policyTtlSeconds: number;
  /** Lifetime of an uploaded file (simulated ms; 48 h). */
  fileTtlMs: number;
  maxFileSizeMb: number;
}

interface Grant {
  apiKeyId: string;
  model: string;
}

interface StoredFile extends Grant {
  bytes: Buffer;
  contentType?: string;
  expiresAt: number;
}

export interface PolicyData {
  policy: string;
  signature: string;
  upload_dir: string;
  upload_host: string;
  expire_in_seconds: number;
  max_file_size_mb: number;
  capacity_limit_mb: number;
  oss_access_key_id: string;
  x_oss_object_acl: string;
  x_oss_forbid_overwrite: string;
}

export class TemporaryUploads implements OssObjectResolver {
  private readonly accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
  private readonly secret = randomBytes(20).toString('base64');
  private readonly dirs = new Map<string, Grant>();
  private readonly files = new Map<string, StoredFile>();

  constructor(
    private readonly options: UploadOptions,
    private readonly origin: () => string,
    private readonly now: () => number,
    private readonly records: Records,
  ) {}

  getPolicy(apiKeyId: string, model: string): PolicyData {
    const now = this.now();
    const dir = `dashscope-instant/${apiKeyId.replace(/^key-/, '')}/${beijingDate(now)}/${randomUUID()}`;
    this.dirs.set(dir, { apiKeyId, model });
    const policyJson = {
      expiration: new Date(now + this.options.policyTtlSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, '.000Z'),
      conditions: [
        ['content-length-range', 0, this.options.maxFileSizeMb * 1024 * 1024],
        ['starts-with', '$key', dir],
        { bucket: BUCKET },
        { 'x-oss-object-acl': 'private' },
        { 'x-oss-forbid-overwrite': 'true' },
      ],
    };
    const policy = Buffer.from(JSON.stringify(policyJson)).toString('base64');
    this.records.uploads.push({ at: now, realAt: Date.now(), kind: 'getPolicy', apiKeyId, model, status: 200 });
    return {
      policy,
      signature: this.sign(policy),
      upload_dir: dir,
      upload_host: `${this.origin()}${UPLOAD_PATH}`,
      expire_in_seconds: this.options.policyTtlSeconds,
      max_file_size_mb: this.options.maxFileSizeMb,
      capacity_limit_mb: 999999999,
      oss_access_key_id: this.accessKeyId,
      x_oss_object_acl: 'private',
      x_oss_forbid_overwrite: 'true',
    };
  }

  /** The form upload (OSS PostObject). `body` is the raw multipart body. */
  async upload(contentType: string, body: Buffer): Promise<Reply> {
    const reply = await this.accept(contentType, body);
    this.records.uploads.push({
      at: this.now(),
      realAt: Date.now(),
      kind: 'upload',
      apiKeyId: reply.grant?.apiKeyId,
      model: reply.grant?.model,
      key: reply.key,
      bytes: reply.bytes,
      status: reply.reply.status,
      code: reply.reply.status >= 300 ? reply.code : undefined,
    });
    return reply.reply;
  }

  private async accept(contentType: string, body: Buffer): Promise<{ reply: Reply; code?: string; grant?: Grant; key?: string; bytes?: number }> {
    if (!/^multipart\/form-data/i.test(contentType)) {
      return ossFailure(400, 'InvalidArgument', 'The body of your POST request is not well-formed multipart/form-data.', HOST_ID);
    }
    let form: FormData;
    try {
      // The platform's own multipart parser (undici, inside Node).
      form = await new Request('http://upload.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
    } catch {
      return ossFailure(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.', HOST_ID);
    }
    // OSS form field names are case-insensitive.
    const field = (name: string): string | undefined => {
      for (const [k, v] of form.entries()) if (k.toLowerCase() === name.toLowerCase() && typeof v === 'string') return v;
      return undefined;
    };
    const file = form.get('file');
    const key = field('key');
    const keyId = field('OSSAccessKeyId');
    const policy = field('policy');
    const signature = field('Signature');
    if (!key) return ossFailure(400, 'InvalidArgument', 'Bucket POST must contain a field named key.', HOST_ID);
    if (!file || typeof file === 'string') return ossFailure(400, 'InvalidArgument', 'Bucket POST must contain a field named file.', HOST_ID);
    if (!keyId || !policy || !signature) {
      return ossFailure(403, 'AccessDenied', 'Anonymous access is forbidden for this operation.', HOST_ID);
    }
    if (keyId !== this.accessKeyId) {
      return ossFailure(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', HOST_ID, { OSSAccessKeyId: keyId });
    }
    if (!safeEqual(signature, this.sign(policy))) {
      return ossFailure(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', HOST_ID);
    }
    // Signed, so trusted from here on.
    const parsed = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration: string; conditions: unknown[] };
    if (Date.parse(parsed.expiration) < this.now()) {
      return ossFailure(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.', HOST_ID);
    }
    const bytes = Buffer.from(await file.arrayBuffer());
    for (const cond of parsed.conditions) {
      if (!Array.isArray(cond)) {
        const [name, value] = Object.entries(cond as Record<string, string>)[0] ?? [];
        if (name && name !== 'bucket' && field(name) !== value) return policyFailed(cond);
        continue;
      }
      if (cond[0] === 'starts-with' && cond[1] === '$key' && !key.startsWith(String(cond[2]))) return policyFailed(cond);
      if (cond[0] === 'content-length-range' && (bytes.length < Number(cond[1]) || bytes.length > Number(cond[2]))) {
        return ossFailure(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', HOST_ID);
      }
    }
    const dir = [...this.dirs.keys()].find((d) => key.startsWith(`${d}/`));
    const grant = dir ? this.dirs.get(dir) : undefined;
    if (!grant) return policyFailed(['starts-with', '$key', 'dashscope-instant/']);
    const existing = this.files.get(key);
    if (existing && existing.expiresAt > this.now()) {
      return { ...ossFailure(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', HOST_ID), grant, key };
    }
    this.files.set(key, { ...grant, bytes, contentType: field('x-oss-content-type') ?? file.type, expiresAt: this.now() + this.options.fileTtlMs });
    const status = Number(field('success_action_status'));
    return {
      reply: { status: status === 200 || status === 201 ? status : 204, headers: { server: 'AliyunOSS', etag: `"${randomUUID()}"` }, body: '' },
      grant,
      key,
      bytes: bytes.length,
    };
  }

  /** `oss://` resolution at task start: same account, same model, within 48 h. */
  resolve(key: string, apiKeyId: string, model: string): { ok: true; bytes: Buffer } | Failure {
    const file = this.files.get(key);
    if (!file || file.expiresAt <= this.now()) {
      if (file) this.files.delete(key);
      return { ok: false, ...TASK.downloadNotFound };
    }
    if (file.apiKeyId !== apiKeyId || file.model !== model) return { ok: false, ...TASK.downloadForbidden };
    return { ok: true, bytes: file.bytes };
  }

  private sign(policy: string): string {
    return createHmac('sha1', this.secret).update(policy).digest('base64');
  }
}

function policyFailed(cond: unknown): ReturnType<typeof ossFailure> {
  return ossFailure(403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ${JSON.stringify(cond)}`, HOST_ID);
}
