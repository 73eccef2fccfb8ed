/**
 * Secrets must never reach logs, manifests or thrown errors (SPEC §3, §4). Two layers:
 * exact values registered when configuration is read (API keys, access key secrets, STS tokens),
 * and patterns for what is secret by shape (URL signatures, bearer tokens, credentials in URLs).
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // Short values would redact ordinary words; real keys are long.
  if (value && value.length >= 8) secrets.add(value);
}

const PATTERNS: Array<[RegExp, string]> = [
  // V4 and V1 presigned URL parts, and any security token carried in a query string.
  [/((?:x-oss-signature|x-oss-credential|x-oss-security-token|Signature|OSSAccessKeyId|security-token|x-ots-signature)=)[^&\s"'<>]+/gi, '$1[REDACTED]'],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1[REDACTED]'],
  [/(OSS4-HMAC-SHA256\s+Credential=)[^,\s"]+/g, '$1[REDACTED]'],
  // DashScope API keys have this shape.
  [/\bsk-[A-Za-z0-9]{16,}\b/g, 'sk-[REDACTED]'],
];

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Redacts every string inside a JSON-able value (for manifests and log records). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}
