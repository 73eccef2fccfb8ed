/**
 * Reading a request line the way OSS does: the raw query (order, bare keys and empty values kept,
 * because the V4 canonical query depends on them) and which bucket/key a request addresses.
 */
import { OssError } from './errors.js';

export const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export interface QueryParam {
  name: string;
  /** null when the parameter had no '=' at all (`?acl`). */
  value: string | null;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new OssError(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

export function splitUrl(rawUrl: string): { rawPath: string; query: QueryParam[] } {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query: QueryParam[] = [];
  if (q >= 0) {
    for (const part of rawUrl.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      // '+' means a space in query strings (URLSearchParams writes it); ali-oss always sends %2B.
      const name = decodeComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
      const value = eq < 0 ? null : decodeComponent(part.slice(eq + 1).replace(/\+/g, ' '));
      query.push({ name, value });
    }
  }
  return { rawPath, query };
}

export function queryValue(query: QueryParam[], name: string): string | undefined {
  const p = query.find((x) => x.name === name);
  return p ? (p.value ?? '') : undefined;
}

export function hasQuery(query: QueryParam[], name: string): boolean {
  return query.some((x) => x.name === name);
}

export interface Target {
  /** '' for a service-level request (ListBuckets: `GET /` on an endpoint that names no bucket). */
  bucket: string;
  /** '' for a bucket-level request. */
  key: string;
}

export interface Addressing {
  /** The bucket came from the Host header: it is what the client meant, known or not. */
  explicitBucket?: string;
  /** Readings to try in order; a signed request picks the one its signature verifies for. */
  candidates: Target[];
}

/** Host name without port, lowercased; IPv6 brackets removed. */
export function hostName(hostHeader: string | undefined): string {
  const host = (hostHeader ?? '').trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/**
 * Every way ali-oss addresses a bucket: virtual host (`<bucket>.<region>.aliyuncs.com`, which is
 * also the Host it fakes for IP endpoints, and `<bucket>.localhost`), path style (`sldEnable`,
 * `/<bucket>/<key>`, possibly on top of a virtual Host) and cname (bucket only in the signature).
 * On a Host that names no bucket, `GET /` may also be ListBuckets, and `/<name>/…` may address a
 * bucket that does not exist (NoSuchBucket once the signature shows that is what was meant).
 */
export function resolveAddressing(hostHeader: string | undefined, rawPath: string, knownBuckets: string[], defaultBucket: string): Addressing {
  if (!rawPath.startsWith('/')) throw new OssError(400, 'InvalidURI', "Couldn't parse the specified URI.");
  const host = hostName(hostHeader);
  const labels = host.split('.');
  const virtual =
    (host.endsWith('.aliyuncs.com') && labels.length >= 4) || (host.endsWith('.localhost') && labels.length >= 2) ? labels[0] : undefined;
  const fullKey = decodeComponent(rawPath.slice(1));
  const slash = rawPath.indexOf('/', 1);
  const firstSegment = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
  const pathStyle = (bucket: string): Target => ({ bucket, key: slash < 0 ? '' : decodeComponent(rawPath.slice(slash + 1)) });

  if (virtual) {
    const candidates: Target[] = [{ bucket: virtual, key: fullKey }];
    if (firstSegment === virtual) candidates.push(pathStyle(virtual));
    return { explicitBucket: virtual, candidates };
  }
  const candidates: Target[] = [];
  if (knownBuckets.includes(firstSegment)) candidates.push(pathStyle(firstSegment));
  for (const bucket of [defaultBucket, ...knownBuckets.filter((b) => b !== defaultBucket)]) candidates.push({ bucket, key: fullKey });
  if (rawPath === '/') candidates.push({ bucket: '', key: '' });
  else if (!knownBuckets.includes(firstSegment) && BUCKET_NAME.test(firstSegment)) candidates.push(pathStyle(firstSegment));
  return { candidates };
}
