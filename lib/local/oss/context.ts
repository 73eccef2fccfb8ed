/** What an operation handler gets: the parsed request, its bucket's store, and how to answer. */
import type { ServerResponse } from 'node:http';
import type { QueryParam } from './request-url.js';
import type { BucketStore, ObjectRecord } from './store.js';
import { xmlDocument, type XmlNode } from './xml.js';

export interface EmulatorEnv {
  now(): number;
  /** 'oss-cn-beijing' */
  regionId: string;
  accountId: string;
  store(bucket: string): BucketStore;
  bucketCreated(bucket: string): number;
  /** Every bucket, for ListBuckets. */
  buckets(): Array<{ name: string; created: number }>;
  /** Queue a trigger event, delivered after the response has been sent. */
  emitObjectEvent(ctx: OpContext, eventName: string, bucket: string, key: string, record: ObjectRecord, previousSize?: number): void;
}

export interface OpContext {
  env: EmulatorEnv;
  res: ServerResponse;
  requestId: string;
  /** Lowercased names; values decoded from the wire as UTF-8 where valid. */
  headers: Record<string, string>;
  query: QueryParam[];
  body: Buffer;
  bucket: string;
  key: string;
  sourceIp: string;
  /** Send the answer; standard OSS headers (request id, Date, Server) are added. */
  reply(status: number, headers: Record<string, string | number>, body?: Buffer | string): void;
}

/** A 200 answer carrying an XML document (plus any extra headers). */
export function xmlReply(ctx: OpContext, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  ctx.reply(200, { 'Content-Type': 'application/xml', ...headers }, xmlDocument(root, body));
}

/** Header values travel as bytes; Node shows them as latin1. Keep UTF-8 text readable both ways. */
export function headerIn(value: string): string {
  if (!/[\x80-\xff]/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\uFFFD') ? value : decoded;
}

export function headerOut(value: string): string {
  return /[^\x00-\xff]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}
