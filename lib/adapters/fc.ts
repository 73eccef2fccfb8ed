/**
 * PollerKicker over the Function Compute 3.0 API (`@alicloud/fc20230330`, InvokeFunction with
 * `x-fc-invocation-type: Async`). Not `@alicloud/fc2`: it speaks only the FC 2.0 API (services,
 * 2016-08-15), which cannot address functions deployed by the `fc3` component (README, "Why the
 * FC 3.0 client").
 */
import FcModule, { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { Readable } from 'node:stream';
import { TransportError } from '../errors.js';
import type { PollerKicker } from '../core/ports.js';
import type { CloudCredentials } from './credentials.js';

/**
 * The client class. Node's own ESM loader (the CLI runs through tsx) hands over a CommonJS
 * module's whole `exports` as the default import, where bundlers and vitest unwrap `__esModule`'s
 * `exports.default`: accept both.
 */
const FcClient = ((FcModule as unknown as { default?: typeof FcModule }).default ?? FcModule) as typeof FcModule;

export interface FcSettings {
  functionName: string;
  /** Override (local runner); otherwise `<accountId>.<region>.fc.aliyuncs.com`. */
  endpoint?: string;
  accountId?: string;
  region?: string;
}

/** The poller's event for a kick: shaped like a timer event so one schema parses both. */
export function kickEvent(reason: string, now = Date.now()): string {
  return JSON.stringify({ triggerTime: new Date(now).toISOString(), triggerName: 'kick', payload: reason });
}

export function createPollerKicker(settings: FcSettings, credentials: CloudCredentials): PollerKicker {
  let endpoint = settings.endpoint;
  if (!endpoint) {
    if (!settings.accountId || !settings.region) throw new Error('FC kick needs FC_ACCOUNT_ID and FC_REGION (set by Function Compute) or FC_ENDPOINT');
    endpoint = `${settings.accountId}.${settings.region}.fc.aliyuncs.com`;
  }
  const url = /^https?:\/\//.test(endpoint) ? new URL(endpoint) : undefined;
  const client = new FcClient(
    new $OpenApiUtil.Config({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      ...(credentials.securityToken ? { securityToken: credentials.securityToken } : {}),
      endpoint: url ? url.host : endpoint,
      protocol: url ? url.protocol.replace(':', '') : 'https',
      readTimeout: 5_000,
      connectTimeout: 3_000,
    }),
  );
  return {
    async kick(reason: string, delayMs = 0) {
      // x-fc-async-delay: whole seconds, 0–3600 (FC "asynchronous invocation: deferred invocation").
      // Rounded down: waking a little early costs a pass; waking late would delay a result.
      const delay = Math.min(3600, Math.floor(delayMs / 1000));
      try {
        await client.invokeFunctionWithOptions(
          settings.functionName,
          new InvokeFunctionRequest({ body: Readable.from([Buffer.from(kickEvent(reason))]) }),
          new InvokeFunctionHeaders({ xFcInvocationType: 'Async', ...(delay > 0 ? { commonHeaders: { 'x-fc-async-delay': String(delay) } } : {}) }),
          {} as never,
        );
      } catch (err) {
        throw new TransportError('fc', `invoke ${settings.functionName}: ${(err as Error)?.message ?? String(err)}`, true, { cause: err });
      }
    },
  };
}
