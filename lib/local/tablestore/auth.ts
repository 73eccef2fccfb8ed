/**
 * Request authentication as the service does it: required headers, instance name, access key,
 * STS token, x-ots-signature (HMAC-SHA1 over "/Op\nPOST\n\n" + sorted x-ots-* headers), body MD5
 * and clock skew. Messages are the service's (Tablestore "Error codes": permission errors).
 * And the other way: the service signs its replies, which the Python and Java SDKs verify.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccessKey, CredentialStore } from '../credentials.js';
import { authFailed, paramInvalid } from './errors.js';

const REQUIRED = ['x-ots-date', 'x-ots-apiversion', 'x-ots-accesskeyid', 'x-ots-contentmd5', 'x-ots-signature', 'x-ots-instancename'];
/** The service refuses requests whose x-ots-date is more than 15 minutes off. */
const MAX_SKEW_MS = 15 * 60_000;

export interface AuthContext {
  credentials: CredentialStore;
  instance: string;
  /** Emulator clock: decides whether an STS key has expired (keys are issued on the same clock). */
  now: number;
  /** Wall clock: the SDK signs x-ots-date with it. */
  wallNow: number;
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

export function stringToSign(operation: string, headers: IncomingHttpHeaders): string {
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n.startsWith('x-ots-') && n !== 'x-ots-signature')
    .sort();
  return `/${operation}\nPOST\n\n${names.map((n) => `${n}:${header(headers, n) ?? ''}`).join('\n')}\n`;
}

export function sign(secret: string, operation: string, headers: IncomingHttpHeaders): string {
  return createHmac('sha1', secret).update(stringToSign(operation, headers), 'utf8').digest('base64');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The reply's `Authorization: OTS <AccessKeyId>:<signature>`: base64 HMAC-SHA1, keyed by the
 * caller's secret, over the reply's `x-ots-*` headers as sorted `name:value` lines, then
 * `"\n/<Operation>"` — exactly what aliyun-tablestore-python-sdk `protocol.py`
 * (`_make_response_signature`, `_check_authorization`) recomputes and compares.
 */
export function replyAuthorization(key: Pick<AccessKey, 'accessKeyId' | 'accessKeySecret'>, operation: string, replyHeaders: Record<string, string>): string {
  const lines = Object.entries(replyHeaders)
    .filter(([name]) => name.startsWith('x-ots-') && name !== 'x-ots-signature')
    .map(([name, value]) => `${name}:${value.trim()}`)
    .sort();
  const signature = createHmac('sha1', key.accessKeySecret).update(`${lines.join('\n')}\n/${operation}`, 'utf8').digest('base64');
  return `OTS ${key.accessKeyId}:${signature}`;
}

/** Throws the service's error for the first check that fails. Returns the caller's key. */
export function authenticate(operation: string, headers: IncomingHttpHeaders, body: Buffer, ctx: AuthContext): AccessKey {
  for (const name of REQUIRED) if (!header(headers, name)) throw paramInvalid(`Missing header: ${name}.`);

  if (header(headers, 'x-ots-instancename') !== ctx.instance) throw authFailed('The instance is not found.');

  const keyId = header(headers, 'x-ots-accesskeyid')!;
  const key = ctx.credentials.get(keyId);
  const token = header(headers, 'x-ots-ststoken');
  // As for OSS: an STS key is only known together with its token (and a token makes any key an STS key).
  if (!key || (key.securityToken === undefined) !== (token === undefined)) throw authFailed('The AccessKeyID does not exist.');
  if (key.securityToken !== undefined && !sameText(key.securityToken, token!)) {
    throw authFailed('The security token you provided is invalid.');
  }
  if (key.expiresAt !== undefined && ctx.now >= key.expiresAt) {
    throw authFailed(key.securityToken !== undefined ? 'The security token you provided has expired.' : 'The AccessKeyID is disabled.');
  }

  if (!sameText(sign(key.accessKeySecret, operation, headers), header(headers, 'x-ots-signature')!)) {
    throw authFailed('Signature mismatch.');
  }

  const md5 = createHash('md5').update(body).digest('base64');
  if (md5 !== header(headers, 'x-ots-contentmd5')) {
    throw authFailed('Mismatch between MD5 value of request body and x-ots-contentmd5 in header.');
  }

  const date = header(headers, 'x-ots-date')!;
  const t = Date.parse(date);
  if (Number.isNaN(t)) throw paramInvalid(`Invalid date format: ${date}.`);
  if (Math.abs(t - ctx.wallNow) > MAX_SKEW_MS) throw authFailed(`Mismatch between system time and x-ots-date: ${date}.`);
  return key;
}
