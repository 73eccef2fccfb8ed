/**
 * Shared by the OSS emulator tests: real ali-oss clients (signature V4) pointed at an emulator.
 * The casts for options @types/ali-oss lacks (sldEnable) stay here.
 */
import OSS from 'ali-oss';
import type { OssEmulator } from '../../lib/local/oss/index.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

export type ClientMode = 'ip' | 'path' | 'cname';

export interface ClientOptions {
  mode?: ClientMode;
  accessKeyId?: string;
  accessKeySecret?: string;
  stsToken?: string;
  bucket?: string;
  region?: string;
}

/** What ali-oss really offers and @types/ali-oss lacks. */
export type OssClient = OSS & {
  getObjectMeta(name: string): Promise<{ status: number; res: { headers: Record<string, string> } }>;
};

/** Response headers of any ali-oss result (typed `{}`/`object` in @types/ali-oss). */
export function headersOf(result: { res: unknown }): Record<string, string> {
  return (result.res as { headers: Record<string, string> }).headers;
}

/** ip: http://127.0.0.1:PORT (Host faked as <bucket>.<region>.aliyuncs.com); path: sldEnable; cname: localhost + cname. */
export function ossClient(emu: OssEmulator, o: ClientOptions = {}): OssClient {
  const mode = o.mode ?? 'ip';
  const endpoint = mode === 'cname' ? emu.endpoint.replace('127.0.0.1', 'localhost') : emu.endpoint;
  const options = {
    accessKeyId: o.accessKeyId ?? emu.accessKeyId,
    accessKeySecret: o.accessKeySecret ?? emu.accessKeySecret,
    stsToken: o.stsToken,
    bucket: o.bucket ?? emu.bucket,
    region: o.region ?? emu.region,
    endpoint,
    authorizationV4: true,
    cname: mode === 'cname',
    sldEnable: mode === 'path',
    timeout: 10_000,
  };
  return new OSS(options as OSS.Options) as OssClient;
}

/** What ali-oss puts on its errors. */
export interface OssClientError {
  name: string;
  code: string;
  status: number;
  message: string;
  requestId?: string;
}

export async function ossError(promise: Promise<unknown>): Promise<OssClientError> {
  try {
    await promise;
  } catch (err) {
    return err as OssClientError;
  }
  throw new Error('expected the OSS call to fail');
}

/** User metadata as ali-oss wants it typed (its typings demand uid/pid). */
export const meta = (m: Record<string, string>) => m as unknown as OSS.UserMeta;

/** test/helpers/wait.ts's waitFor at the emulator tests' pace: every 20 ms, 5 s by default. */
export function waitFor<T>(check: () => T | undefined, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  return waitUntil(what, check, { timeoutMs, everyMs: 20 });
}
