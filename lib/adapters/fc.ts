/**
 * PollerKicker over the Function Compute 3.0 API (`@alicloud/fc20230330`, InvokeFunction with
 * `x-fc-invocation-type: Async`). Not `@alicloud/fc2`: it speaks only the FC 2.0 API (services,
 * 2016-08-15), which cannot address functions deployed by the `fc3` component (README, "Why the
 * FC 3.0 client").
 */
import type FcClientClass from '@alicloud/fc20230330';
import { Readable } from 'node:stream';
import { TransportError } from '../errors.js';
import type { PollerKicker } from '../core/ports.js';
import type { CloudCredentials } from './credentials.js';

/**
 * The FC 3.0 client, its models and openapi-core's Config, imported on the first kick (issue 17):
 * most invocations never kick, and this stack is the slowest part of a bundle to load.
 */
async function loadFcSdk() {
  const [fc, openapi] = await Promise.all([import('@alicloud/fc20230330'), import('@alicloud/openapi-core')]);
  // Node's own ESM loader (the CLI runs through tsx) hands over a CommonJS module's whole `exports`
  // as the default import, where bundlers and vitest unwrap `__esModule`'s `exports.default`:
  // accept both.
  const mod = fc.default as unknown as { default?: typeof FcClientClass } & typeof FcClientClass;
  return { FcClient: mod.default ?? mod, InvokeFunctionRequest: fc.InvokeFunctionRequest, InvokeFunctionHeaders: fc.InvokeFunctionHeaders, Config: openapi.$OpenApiUtil.Config };
}

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
  let sdk: ReturnType<typeof connect> | undefined;
  async function connect() {
    const { FcClient, Config, InvokeFunctionRequest, InvokeFunctionHeaders } = await loadFcSdk();
    const client = new FcClient(
      new Config({
        accessKeyId: credentials.accessKeyId,
        accessKeySecret: credentials.accessKeySecret,
        ...(credentials.securityToken ? { securityToken: credentials.securityToken } : {}),
        endpoint: url ? url.host : endpoint,
        protocol: url ? url.protocol.replace(':', '') : 'https',
        readTimeout: 5_000,
        connectTimeout: 3_000,
      }),
    );
    return { client, InvokeFunctionRequest, InvokeFunctionHeaders };
  }
  return {
    async kick(reason: string, delayMs = 0) {
      // x-fc-async-delay: whole seconds, 0–3600 (FC "asynchronous invocation: deferred invocation").
      // Rounded down: waking a little early costs a pass; waking late would delay a result.
      const delay = Math.min(3600, Math.floor(delayMs / 1000));
      try {
        const { client, InvokeFunctionRequest, InvokeFunctionHeaders } = await (sdk ??= connect().catch((err: unknown) => {
          sdk = undefined; // not cached: the next kick tries again
          throw err;
        }));
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
