/**
 * Who sent a request and whether its signature holds: V4 in the Authorization header or in a
 * presigned URL (and V1 when allowed), checked against the shared CredentialStore, the STS token
 * and the injected clock. When the URL does not name the bucket (cname, or a presigned URL fetched
 * from the bare IP), the bucket is the candidate the signature verifies for.
 */
import type { AccessKey, CredentialStore } from '../credentials.js';
import { E, OssError } from './errors.js';
import type { QueryParam, Target } from './request-url.js';
import { queryValue } from './request-url.js';
import { canonicalRequest, parseIsoBasic, queryStyles, signV4, stringToSign } from './sigv4.js';
import { canonicalResourceV1, signV1, stringToSignV1 } from './sigv1.js';
import { iso } from './xml.js';

const MAX_SKEW_MS = 15 * 60_000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface AuthContext {
  credentials: CredentialStore;
  /** Standard region used in signatures, e.g. 'cn-beijing'. */
  region: string;
  now: () => number;
  allowV1: boolean;
  /** Allowed |server clock − x-oss-date| for header-signed requests (OSS: 15 minutes). */
  maxSkewMs?: number;
}

export interface AuthRequest {
  method: string;
  headers: Record<string, string>;
  query: QueryParam[];
  candidates: Target[];
}

export interface AuthResult {
  target: Target;
  accessKeyId?: string;
  presigned: boolean;
}

export function checkKey(credentials: CredentialStore, accessKeyId: string, token: string | undefined, now: number): AccessKey {
  const key = credentials.get(accessKeyId);
  if (!key) throw E.invalidAccessKeyId(accessKeyId);
  if (key.securityToken) {
    // An STS key id is only known together with its token, so OSS answers as for an unknown id.
    if (!token) throw E.invalidAccessKeyId(accessKeyId);
    if (token !== key.securityToken) throw E.invalidSecurityToken();
    if (key.expiresAt !== undefined && now >= key.expiresAt) throw E.securityTokenExpired();
  } else {
    if (token) throw E.invalidSecurityToken();
    if (key.expiresAt !== undefined && now >= key.expiresAt) throw E.invalidAccessKeyId(accessKeyId);
  }
  return key;
}

function parseCredential(credential: string | undefined): { accessKeyId: string; day: string; region: string } {
  const parts = (credential ?? '').split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aliyun_v4_request' || parts[parts.length - 2] !== 'oss') {
    throw E.invalidArgument('Invalid credential in the request: expected <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request.', 'x-oss-credential', credential ?? '');
  }
  // The access key id itself never contains '/', but be lenient and join what precedes the scope.
  const region = parts[parts.length - 3]!;
  const day = parts[parts.length - 4]!;
  return { accessKeyId: parts.slice(0, parts.length - 4).join('/'), day, region };
}

interface V4Parts {
  accessKeyId: string;
  day: string;
  region: string;
  date: string;
  signature: string;
  additionalHeaders: string[];
  /** The query as signed (presigned: without x-oss-signature). */
  query: QueryParam[];
  presigned: boolean;
  token?: string;
}

function v4FromHeader(req: AuthRequest): V4Parts {
  const auth = req.headers.authorization!.slice('OSS4-HMAC-SHA256'.length).trim();
  const fields: Record<string, string> = {};
  for (const part of auth.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const cred = parseCredential(fields.Credential);
  if (!fields.Signature) throw E.invalidArgument('Authorization header has no Signature.', 'Authorization', '');
  const date = req.headers['x-oss-date'];
  if (!date || parseIsoBasic(date) === undefined) {
    throw new OssError(403, 'AccessDenied', 'OSS4-HMAC-SHA256 requests need an x-oss-date header in the form yyyymmddTHHMMSSZ.');
  }
  return {
    ...cred,
    date,
    signature: fields.Signature,
    additionalHeaders: fields.AdditionalHeaders ? fields.AdditionalHeaders.split(';').map((h) => h.trim().toLowerCase()) : [],
    query: req.query,
    presigned: false,
    token: req.headers['x-oss-security-token'],
  };
}

function v4FromQuery(req: AuthRequest): V4Parts {
  const version = queryValue(req.query, 'x-oss-signature-version');
  if (version !== 'OSS4-HMAC-SHA256') {
    throw E.invalidArgument(`Unsupported x-oss-signature-version '${version ?? ''}'; the emulator speaks OSS4-HMAC-SHA256.`, 'x-oss-signature-version', version ?? '');
  }
  const cred = parseCredential(queryValue(req.query, 'x-oss-credential'));
  const date = queryValue(req.query, 'x-oss-date');
  if (parseIsoBasic(date) === undefined) throw E.invalidArgument('x-oss-date must be yyyymmddTHHMMSSZ.', 'x-oss-date', date ?? '');
  const additional = queryValue(req.query, 'x-oss-additional-headers');
  return {
    ...cred,
    date: date!,
    signature: queryValue(req.query, 'x-oss-signature') ?? '',
    additionalHeaders: additional ? additional.split(';').map((h) => h.trim().toLowerCase()) : [],
    query: req.query.filter((q) => q.name !== 'x-oss-signature'),
    presigned: true,
    token: queryValue(req.query, 'x-oss-security-token'),
  };
}

function verifyV4(req: AuthRequest, ctx: AuthContext): AuthResult {
  const parts = req.headers.authorization ? v4FromHeader(req) : v4FromQuery(req);
  const now = ctx.now();
  const key = checkKey(ctx.credentials, parts.accessKeyId, parts.token, now);
  const requestTime = parseIsoBasic(parts.date)!;
  if (parts.presigned) {
    const expiresText = queryValue(req.query, 'x-oss-expires') ?? '';
    const expires = Number(expiresText);
    if (!/^\d+$/.test(expiresText) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
      throw E.invalidArgument('x-oss-expires must be a whole number of seconds from 1 to 604800.', 'x-oss-expires', expiresText);
    }
    if (requestTime > now + MAX_SKEW_MS) throw E.requestNotYetValid(iso(requestTime), iso(now));
    if (now > requestTime + expires * 1000) throw E.requestExpired(iso(requestTime + expires * 1000), iso(now));
  } else if (Math.abs(now - requestTime) > (ctx.maxSkewMs ?? MAX_SKEW_MS)) {
    throw E.timeTooSkewed(iso(requestTime), iso(now));
  }
  // The credential scope must name x-oss-date's day and the bucket's region.
  if (parts.day !== parts.date.slice(0, 8) || parts.region !== ctx.region) {
    throw E.signatureDoesNotMatch({ OSSAccessKeyId: parts.accessKeyId });
  }
  for (const h of parts.additionalHeaders) {
    if (req.headers[h] === undefined) throw E.invalidArgument(`Additional header '${h}' is signed but missing from the request.`, 'AdditionalHeaders', h);
  }
  let first: { canonical: string; toSign: string } | undefined;
  for (const target of req.candidates) {
    for (const queryStyle of queryStyles(parts.query)) {
      const canonical = canonicalRequest({
        method: req.method,
        bucket: target.bucket,
        key: target.key,
        query: parts.query,
        headers: req.headers,
        additionalHeaders: parts.additionalHeaders,
        queryStyle,
      });
      const toSign = stringToSign(parts.date, parts.region, canonical);
      first ??= { canonical, toSign };
      if (signV4(key.accessKeySecret, parts.day, parts.region, toSign) === parts.signature) {
        return { target, accessKeyId: parts.accessKeyId, presigned: parts.presigned };
      }
    }
  }
  throw E.signatureDoesNotMatch({
    OSSAccessKeyId: parts.accessKeyId,
    SignatureProvided: parts.signature,
    StringToSign: first?.toSign ?? '',
    CanonicalRequest: first?.canonical ?? '',
  });
}

function verifyV1(req: AuthRequest, ctx: AuthContext): AuthResult {
  if (!ctx.allowV1) throw E.v1Refused();
  const presigned = !req.headers.authorization;
  const now = ctx.now();
  let accessKeyId: string;
  let signature: string;
  let dateLine: string;
  let token: string | undefined;
  if (presigned) {
    accessKeyId = queryValue(req.query, 'OSSAccessKeyId') ?? '';
    signature = queryValue(req.query, 'Signature') ?? '';
    dateLine = queryValue(req.query, 'Expires') ?? '';
    token = queryValue(req.query, 'security-token');
    if (!/^\d+$/.test(dateLine)) throw E.invalidArgument('Expires must be a unix time in seconds.', 'Expires', dateLine);
  } else {
    const m = /^OSS ([^:]+):(.+)$/.exec(req.headers.authorization!);
    if (!m) throw E.invalidArgument('Malformed OSS Authorization header.', 'Authorization', '');
    accessKeyId = m[1]!;
    signature = m[2]!;
    dateLine = req.headers['x-oss-date'] ?? req.headers.date ?? '';
    token = req.headers['x-oss-security-token'];
  }
  const key = checkKey(ctx.credentials, accessKeyId, token, now);
  if (presigned) {
    const expires = Number(dateLine) * 1000;
    if (now > expires) throw E.requestExpired(iso(expires), iso(now));
  } else {
    const t = Date.parse(dateLine);
    if (Number.isNaN(t) || Math.abs(now - t) > (ctx.maxSkewMs ?? MAX_SKEW_MS)) throw E.timeTooSkewed(Number.isNaN(t) ? dateLine : iso(t), iso(now));
  }
  let firstToSign = '';
  for (const target of req.candidates) {
    const toSign = stringToSignV1(req.method, req.headers, dateLine, canonicalResourceV1(target.bucket, target.key, req.query));
    firstToSign ||= toSign;
    if (signV1(key.accessKeySecret, toSign) === signature) return { target, accessKeyId, presigned };
  }
  throw E.signatureDoesNotMatch({ OSSAccessKeyId: accessKeyId, SignatureProvided: signature, StringToSign: firstToSign });
}

/** Throws the OssError OSS would answer; returns the verified identity and addressed object. */
export function authenticate(req: AuthRequest, ctx: AuthContext): AuthResult {
  const auth = req.headers.authorization;
  if (auth?.startsWith('OSS4-HMAC-SHA256')) return verifyV4(req, ctx);
  if (auth?.startsWith('OSS ')) return verifyV1(req, ctx);
  if (auth) throw E.invalidArgument('Authorization header is invalid.', 'Authorization', auth.split(' ')[0] ?? '');
  if (req.query.some((q) => q.name === 'x-oss-signature' || q.name === 'x-oss-signature-version')) return verifyV4(req, ctx);
  if (req.query.some((q) => q.name === 'OSSAccessKeyId' || q.name === 'Signature')) return verifyV1(req, ctx);
  throw E.accessDeniedAnonymous();
}
