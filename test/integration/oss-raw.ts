/**
 * Raw HTTP to the OSS emulator for what ali-oss does not show (the XML as sent, every header):
 * signature V4 written here from OSS's "V4 signature" reference, independently of the emulator's
 * own verifier (lib/local/oss/sigv4.ts), so a shared mistake cannot hide.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { OssEmulator } from '../../lib/local/oss/index.js';

export interface RawRequest {
  method?: string;
  /** Omitted: a service-level request (ListBuckets). */
  bucket?: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** 'virtual' (default): Host names the bucket; 'path': Host is the IP, the path starts with the bucket. */
  style?: 'virtual' | 'path';
  /** Signing time (default now). */
  at?: number;
  secret?: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** RFC 3986 unreserved characters stay; everything else is %XX (uppercase). */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

export function rawOss(emu: OssEmulator, r: RawRequest): Promise<RawResponse> {
  const method = r.method ?? 'GET';
  const region = emu.region.replace(/^oss-/, '');
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const date = new Date(r.at ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { 'x-oss-date': date, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD', ...r.headers };

  const query = Object.entries(r.query ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = query.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&');
  const resource = r.bucket === undefined ? '/' : `/${r.bucket}/${r.key ?? ''}`;
  const signed = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n === 'content-type' || n === 'content-md5' || n.startsWith('x-oss-'))
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonical = [
    method,
    uriEncode(resource).replace(/%2F/g, '/'),
    canonicalQuery,
    signed.map((n) => `${n}:${lower[n]!.trim()}\n`).join(''),
    '',
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = `${day}/${region}/oss/aliyun_v4_request`;
  const toSign = ['OSS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = hmac(`aliyun_v4${r.secret ?? emu.accessKeySecret}`, day);
  for (const part of [region, 'oss', 'aliyun_v4_request']) key = hmac(key, part);
  headers.authorization = `OSS4-HMAC-SHA256 Credential=${emu.accessKeyId}/${scope},Signature=${createHmac('sha256', key).update(toSign).digest('hex')}`;

  const url = new URL(emu.endpoint);
  const style = r.style ?? 'virtual';
  const encodedKey = uriEncode(r.key ?? '').replace(/%2F/g, '/');
  const path =
    (r.bucket === undefined ? '/' : style === 'path' ? `/${r.bucket}/${encodedKey}` : `/${encodedKey}`) +
    (query.length ? `?${query.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&')}` : '');
  headers.host = r.bucket === undefined || style === 'path' ? (r.bucket === undefined ? `${emu.region}.aliyuncs.com` : url.host) : `${r.bucket}.${emu.region}.aliyuncs.com`;
  headers['content-length'] = String(body.length);

  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every text of <name> elements in an XML document. */
export function xmlTexts(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
}
