/**
 * API keys. Each key is its own account here (its own queue, slot and limits); records carry a
 * key id derived from the key, never the key itself.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError, E } from './errors.js';
import { header } from './http.js';
import { sha256Hex } from './random.js';

export function generateApiKey(): string {
  // Real keys are `sk-` + 32 hex; lib/redact.ts recognises that shape.
  return `sk-${randomBytes(16).toString('hex')}`;
}

export function apiKeyIdOf(key: string): string {
  return `key-${sha256Hex(key).slice(0, 10)}`;
}

export class ApiKeys {
  private readonly byKey = new Map<string, string>();

  constructor(keys: string[]) {
    for (const k of keys) this.add(k);
  }

  add(key: string): string {
    const id = apiKeyIdOf(key);
    this.byKey.set(key, id);
    return id;
  }

  /** The key id for the request's Bearer key, or the service's 401. */
  authenticate(req: IncomingMessage): string {
    const auth = header(req, 'authorization')?.trim();
    if (!auth) throw ApiError.of(E.noApiKey);
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw ApiError.of(E.invalidApiKey);
    const id = this.byKey.get(m[1]!);
    if (!id) throw ApiError.of(E.invalidApiKey);
    return id;
  }
}

/** Constant-time string comparison (signatures, tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
