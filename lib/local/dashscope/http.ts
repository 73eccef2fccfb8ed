/** Small HTTP helpers shared by the routes (no framework: node:http is enough and has no surprises). */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiError, ossXmlError } from './errors.js';

export function newRequestId(): string {
  return randomUUID();
}

/**
 * What a handler answers. Handlers return a Reply instead of writing to the socket, so the server
 * can still lose the answer (injected `after` faults) or delay it once the work is done.
 */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json;charset=UTF-8', ...headers }, body: JSON.stringify(body) };
}

/** The service's flat error body. */
export function apiErrorReply(err: ApiError, requestId: string): Reply {
  return jsonReply(err.status, { code: err.code, message: err.message, request_id: requestId }, { 'x-request-id': requestId });
}

/** An OSS-style XML error (result bucket, upload host). */
export function ossErrorReply(status: number, code: string, message: string, hostId: string, extra: Record<string, string> = {}): Reply {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase();
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-oss-request-id': requestId, server: 'AliyunOSS' },
    body: ossXmlError(code, message, requestId, hostId, extra),
  };
}

/** An OSS-style error reply (result bucket, upload host) with its code at hand for the records. */
export function ossFailure(status: number, code: string, message: string, hostId: string, extra: Record<string, string> = {}): { reply: Reply; code: string } {
  return { reply: ossErrorReply(status, code, message, hostId, extra), code };
}

export function writeReply(res: ServerResponse, reply: Reply, headOnly = false): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
  res.end(headOnly ? undefined : body);
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
