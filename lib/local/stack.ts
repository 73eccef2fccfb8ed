/**
 * Starts the loopback stand-ins together: one credential store shared by OSS and Tablestore
 * (as Function Compute's STS keys work for both), and the DashScope simulator.
 */
import path from 'node:path';
import OSS from 'ali-oss';
import { CredentialStore } from './credentials.js';
import { startOssEmulator, type OssEmulator } from './oss/index.js';
import { startTablestoreEmulator, type TablestoreEmulator } from './tablestore/index.js';
import { startDashScopeSimulator, type DashScopeSimulator, type DashScopeSimulatorOptions } from './dashscope/index.js';

export interface LocalStackOptions {
  /** Disk mode: the bucket lives in this directory, Tablestore state under `<dir>/.sketchflow/`. */
  dir?: string;
  watch?: boolean;
  bucket?: string;
  instance?: string;
  timeScale?: number;
  taskSeconds?: number;
  now?: () => number;
  /** Anything else for the simulator (seed, limits, …). */
  dashscope?: DashScopeSimulatorOptions;
  /** More for the OSS emulator (e.g. trigger delay, event key style). */
  oss?: Partial<import('./oss/index.js').OssEmulatorOptions>;
  /** The Tablestore emulator's switches for unconfirmed behaviour (paging, repeated rows). */
  tablestore?: Partial<import('./tablestore/index.js').TablestoreBehaviour>;
}

export interface LocalStack {
  credentials: CredentialStore;
  oss: OssEmulator;
  tablestore: TablestoreEmulator;
  dashscope: DashScopeSimulator;
  /** The one-line description printed by `sketchflow emulators --json` (SPEC §7). */
  describe(): EmulatorEndpoints;
  /** An ali-oss client of the bucket with the stack's key, as a user uploading sketches has. */
  ossClient(): OSS;
  close(): Promise<void>;
}

export interface EmulatorEndpoints {
  oss: { endpoint: string; bucket: string; region: string; accessKeyId: string; accessKeySecret: string };
  tablestore: { endpoint: string; instance: string; accessKeyId: string; accessKeySecret: string };
  dashscope: { baseUrl: string; apiKey: string };
}

/** The SPEC §6 settings that point the functions at these stand-ins: what s.yaml passes, on loopback. */
export function settingsFor(d: EmulatorEndpoints): Record<string, string> {
  return {
    DASHSCOPE_API_KEY: d.dashscope.apiKey,
    DASHSCOPE_BASE_URL: d.dashscope.baseUrl,
    OSS_BUCKET: d.oss.bucket,
    OSS_REGION: d.oss.region,
    OSS_ENDPOINT: d.oss.endpoint,
    TABLESTORE_ENDPOINT: d.tablestore.endpoint,
    TABLESTORE_INSTANCE: d.tablestore.instance,
  };
}

/** Where local mode keeps its own state inside the bucket directory (hidden from the bucket). */
export const STATE_DIR_NAME = '.sketchflow';

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const credentials = new CredentialStore();
  const key = credentials.issueAccessKey();
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const oss = await startOssEmulator({
      ...options.oss,
      credentials,
      bucket: options.bucket,
      dir: options.dir,
      watch: options.watch,
      now: options.now,
    });
    started.push(oss);
    const tablestore = await startTablestoreEmulator({
      ...options.tablestore,
      credentials,
      instance: options.instance,
      stateFile: options.dir ? path.join(options.dir, STATE_DIR_NAME, 'tablestore.json') : undefined,
      now: options.now,
    });
    started.push(tablestore);
    const dashscope = await startDashScopeSimulator({ ...options.dashscope, timeScale: options.timeScale, taskSeconds: options.taskSeconds });
    started.push(dashscope);
    const describe = (): EmulatorEndpoints => ({
        oss: { endpoint: oss.endpoint, bucket: oss.bucket, region: oss.region, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret },
        tablestore: { endpoint: tablestore.endpoint, instance: tablestore.instance, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret },
        dashscope: { baseUrl: dashscope.baseUrl, apiKey: dashscope.apiKey },
      });
    return {
      credentials,
      oss,
      tablestore,
      dashscope,
      describe,
      ossClient: () =>
        new OSS({
          bucket: oss.bucket,
          region: oss.region,
          endpoint: oss.endpoint,
          accessKeyId: key.accessKeyId,
          accessKeySecret: key.accessKeySecret,
          authorizationV4: true,
          secure: false,
        } as OSS.Options),
      close: async () => {
        await Promise.allSettled(started.reverse().map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.reverse().map((s) => s.close()));
    throw err;
  }
}
