/**
 * PostObject: the browser form upload (multipart/form-data to the bucket root), signed with a V4
 * POST policy — signature = HMAC-SHA256 chain over the base64 policy, as ali-oss's
 * signPostObjectPolicyV4 computes it. Checks the policy's expiration and conditions (exact
 * match, eq, starts-with, content-length-range) and fires ObjectCreated:PostObject.
 */
import type { CredentialStore } from '../credentials.js';
import { checkKey } from './auth.js';
import type { OpContext } from './context.js';
import { E, OssError } from './errors.js';
import { checkObjectKey, quoteEtag } from './ops-object.js';
import { mimeTypeFor } from './mime.js';
import { parseIsoBasic, signV4 } from './sigv4.js';
import { xmlDocument } from './xml.js';

export interface PostAuth {
  credentials: CredentialStore;
  region: string;
}

const policyFailed = (what: string) => new OssError(403, 'AccessDenied', `Invalid according to Policy: ${what}`);

type Condition = Record<string, string> | [string, ...Array<string | number>];

function checkConditions(conditions: Condition[], fields: Map<string, string>, bucket: string, size: number): void {
  const value = (name: string) => (name === 'bucket' ? bucket : fields.get(name.toLowerCase()));
  for (const c of conditions) {
    if (!Array.isArray(c)) {
      for (const [name, expected] of Object.entries(c)) {
        if (value(name) !== expected) throw policyFailed(`Policy Condition failed: ["eq", "$${name}", "${expected}"]`);
      }
      continue;
    }
    const [op, a, b] = c;
    const opName = String(op).toLowerCase();
    if (opName === 'content-length-range') {
      if (size < Number(a) || size > Number(b)) throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    } else if (opName === 'eq' || opName === 'starts-with') {
      const name = String(a).replace(/^\$/, '');
      const actual = value(name) ?? '';
      const ok = opName === 'eq' ? actual === String(b) : actual.startsWith(String(b));
      if (!ok) throw policyFailed(`Policy Condition failed: ["${opName}", "$${name}", "${String(b)}"]`);
    } else if (opName !== 'in' && opName !== 'not-in') {
      throw E.invalidArgument(`Unknown policy condition '${String(op)}'.`, 'policy', String(op));
    }
  }
}

/** Runs the upload; returns who signed it and the key written. */
export async function postObject(ctx: OpContext, auth: PostAuth): Promise<{ accessKeyId: string; key: string }> {
  let form: FormData;
  try {
    form = await new Response(ctx.body, { headers: { 'content-type': ctx.headers['content-type'] ?? '' } }).formData();
  } catch {
    throw E.malformedXml();
  }
  const fields = new Map<string, string>();
  let file: File | undefined;
  for (const [name, v] of form.entries()) {
    if (name.toLowerCase() === 'file' && typeof v !== 'string') file = v;
    else if (typeof v === 'string') fields.set(name.toLowerCase(), v);
  }
  if (!file) throw new OssError(400, 'InvalidArgument', 'The body of your POST request is not well-formed multipart/form-data: no file field.');
  const body = Buffer.from(await file.arrayBuffer());
  const key = (fields.get('key') ?? '').replace('${filename}', file.name);
  if (!key) throw new OssError(400, 'InvalidArgument', 'Bucket POST must contain a field named key.', { ArgumentName: 'key', ArgumentValue: '' });
  checkObjectKey(key);

  // Signature (V4 form fields only; the bucket is private, so a signature is required).
  const policy = fields.get('policy');
  const signature = fields.get('x-oss-signature');
  if (!policy || !signature) throw E.accessDeniedAnonymous();
  if (fields.get('x-oss-signature-version') !== 'OSS4-HMAC-SHA256') {
    throw E.invalidArgument('x-oss-signature-version must be OSS4-HMAC-SHA256.', 'x-oss-signature-version', fields.get('x-oss-signature-version') ?? '');
  }
  const credential = (fields.get('x-oss-credential') ?? '').split('/');
  const [accessKeyId = '', day = '', region = ''] = credential;
  const date = fields.get('x-oss-date') ?? '';
  if (credential.length !== 5 || parseIsoBasic(date) === undefined || date.slice(0, 8) !== day) {
    throw E.invalidArgument('x-oss-credential / x-oss-date are malformed.', 'x-oss-credential', fields.get('x-oss-credential') ?? '');
  }
  const key4 = checkKey(auth.credentials, accessKeyId, fields.get('x-oss-security-token'), ctx.env.now());
  if (region !== auth.region || signV4(key4.accessKeySecret, day, region, policy) !== signature) {
    throw E.signatureDoesNotMatch({ OSSAccessKeyId: accessKeyId, SignatureProvided: signature, StringToSign: policy });
  }

  let parsed: { expiration?: string; conditions?: Condition[] };
  try {
    parsed = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as typeof parsed;
  } catch {
    throw E.invalidArgument('The policy is not valid base64-encoded JSON.', 'policy', '');
  }
  const expires = Date.parse(parsed.expiration ?? '');
  if (Number.isNaN(expires)) throw E.invalidArgument('The policy has no valid expiration.', 'policy', parsed.expiration ?? '');
  if (ctx.env.now() > expires) throw policyFailed('Policy expired.');
  checkConditions(parsed.conditions ?? [], new Map([...fields, ['key', key]]), ctx.bucket, body.length);

  const userMeta: Record<string, string> = {};
  for (const [name, v] of fields) if (name.startsWith('x-oss-meta-')) userMeta[name.slice('x-oss-meta-'.length)] = v;
  const contentType = fields.get('content-type') || file.type || mimeTypeFor(key);
  const { record, previous } = ctx.env.store(ctx.bucket).write(key, body, { contentType, userMeta, headers: {}, lastModified: ctx.env.now() });
  ctx.env.emitObjectEvent(ctx, 'ObjectCreated:PostObject', ctx.bucket, key, record, previous?.size);

  const status = Number(fields.get('success_action_status') ?? 204);
  const headers = { ETag: quoteEtag(record.etag), Location: `/${ctx.bucket}/${key}` };
  if (status === 201) {
    const xml = xmlDocument('PostResponse', { Bucket: ctx.bucket, Location: `/${ctx.bucket}/${key}`, Key: key, ETag: quoteEtag(record.etag) });
    ctx.reply(201, { ...headers, 'Content-Type': 'application/xml' }, xml);
  } else {
    ctx.reply(status === 200 ? 200 : 204, headers);
  }
  return { accessKeyId, key };
}
