/**
 * `sketchflow setup` (SPEC §7, §8): create the Tablestore table (idempotent), then check, one line
 * each, that what the deployed functions need answers: the table takes reads, the bucket lists
 * under the watched prefix, the DashScope key is accepted. Runs with the deployer's keys
 * (ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN), never prints a secret.
 */
import OSS from 'ali-oss';
import { Agent } from 'undici';
import { loadConfig, type Config } from '../config.js';
import { ConfigError, JobStoreError, ModelError, TransportError } from '../errors.js';
import { redact, registerSecret } from '../redact.js';
import { ensureTable, createRowStore } from '../adapters/tablestore.js';
import { createImageModel } from '../adapters/dashscope.js';
import { ossClientOptions } from '../adapters/oss.js';
import type { CloudCredentials } from '../adapters/credentials.js';

export interface CheckResult {
  name: 'table' | 'tablestore' | 'bucket' | 'dashscope';
  ok: boolean;
  detail: string;
}

export interface SetupOptions {
  /** How long a table just created may answer "not ready" (the service needs a few seconds). */
  tableReadyTimeoutMs?: number;
  /** Called with each check as it finishes (the CLI prints it at once). */
  onCheck?: (check: CheckResult) => void;
}

/** Settings and credentials together; every problem named in one ConfigError (exit 2). */
export function readSetupInputs(env: Record<string, string | undefined>): { config: Config; credentials: CloudCredentials } {
  const problems: string[] = [];
  let config: Config | undefined;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const accessKeyId = env.ALIBABA_CLOUD_ACCESS_KEY_ID?.trim();
  const accessKeySecret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET?.trim();
  const securityToken = env.ALIBABA_CLOUD_SECURITY_TOKEN?.trim();
  if (!accessKeyId) problems.push('ALIBABA_CLOUD_ACCESS_KEY_ID is required (the deployer’s AccessKey, for Tablestore and OSS)');
  if (!accessKeySecret) problems.push('ALIBABA_CLOUD_ACCESS_KEY_SECRET is required');
  if (accessKeyId?.startsWith('STS.') && !securityToken) problems.push('ALIBABA_CLOUD_SECURITY_TOKEN is required with STS keys');
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  registerSecret(accessKeySecret);
  registerSecret(securityToken);
  return { config, credentials: { accessKeyId: accessKeyId!, accessKeySecret: accessKeySecret!, ...(securityToken ? { securityToken } : {}) } };
}

const message = (err: unknown) => redact(err instanceof Error ? err.message : String(err));

async function checkTable(config: Config, credentials: CloudCredentials): Promise<CheckResult & { created?: boolean }> {
  const { instance, table } = config.tablestore;
  try {
    const report = await ensureTable(config.tablestore, credentials);
    return { name: 'table', ok: true, created: report.created, detail: `${table} in instance ${instance}: ${report.created ? 'created' : 'exists'} (kind STRING, id STRING)` };
  } catch (err) {
    const hint =
      err instanceof JobStoreError && err.code === 'OTSAuthFailed'
        ? ' — check ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET and TABLESTORE_INSTANCE'
        : err instanceof JobStoreError && err.code === 'OTSNoPermissionAccess'
          ? ' — these keys need ots:DescribeTable and ots:CreateTable on the table (deploy/setup-policy.json)'
          : '';
    return { name: 'table', ok: false, detail: `${table} in instance ${instance}: ${message(err)}${hint}` };
  }
}

async function checkReads(config: Config, credentials: CloudCredentials, waitMs: number): Promise<CheckResult> {
  const rows = createRowStore({ ...config.tablestore, timeoutMs: 10_000 }, credentials);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await rows.get('setup', 'probe');
      return { name: 'tablestore', ok: true, detail: `${config.tablestore.endpoint} answers reads on ${config.tablestore.table}` };
    } catch (err) {
      const notReady = err instanceof JobStoreError && /OTSTableNotReady|OTSObjectNotExist|OTSPartitionUnavailable/.test(err.code);
      if (!notReady || Date.now() > deadline) return { name: 'tablestore', ok: false, detail: `${config.tablestore.endpoint}: ${message(err)}` };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

async function checkBucket(config: Config, credentials: CloudCredentials): Promise<CheckResult> {
  const { bucket, region } = config.oss;
  const client = new OSS(ossClientOptions({ ...config.oss, timeoutMs: 10_000 }, credentials));
  try {
    const page = await client.listV2({ prefix: config.sketchPrefix, 'max-keys': 1 } as OSS.ListV2ObjectsQuery, {});
    const seen = page.objects?.length ? `first object ${page.objects[0]!.name}` : 'no object there yet';
    return { name: 'bucket', ok: true, detail: `${bucket} (${region}) lists ${config.sketchPrefix || '(whole bucket)'}: ${seen}` };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const hint =
      code === 'NoSuchBucket'
        ? ` — create it in ${region} (the functions and DashScope are in cn-beijing)`
        : code === 'AccessDenied'
          ? ` — these keys cannot list ${config.sketchPrefix} (oss:ListObjects)`
          : '';
    return { name: 'bucket', ok: false, detail: `${bucket} (${region}): ${code ? `${code}: ` : ''}${message(err)}${hint}` };
  }
}

async function checkDashScope(config: Config): Promise<CheckResult> {
  // The cheapest authenticated call: a task id that cannot exist answers UNKNOWN with a good key,
  // 401 InvalidApiKey with a bad one. Nothing is created, nothing is billed.
  const agent = new Agent({ connect: { timeout: 5_000 } });
  try {
    const model = createImageModel(config.dashscope, agent);
    const view = await model.getTask('sketchflow-setup-probe-0000');
    return { name: 'dashscope', ok: true, detail: `${config.dashscope.baseUrl} accepts the API key (probe task: ${view.status})` };
  } catch (err) {
    if (err instanceof ModelError && err.status === 401) return { name: 'dashscope', ok: false, detail: `${config.dashscope.baseUrl} rejects DASHSCOPE_API_KEY (${err.code})` };
    if (err instanceof ModelError && err.status === 403) return { name: 'dashscope', ok: false, detail: `${config.dashscope.baseUrl}: ${err.code} ${message(err)} — a RAM user's key needs DASHSCOPE_WORKSPACE` };
    if (err instanceof ModelError && err.status === 404) return { name: 'dashscope', ok: true, detail: `${config.dashscope.baseUrl} accepts the API key (probe task not found)` };
    const what = err instanceof TransportError ? 'cannot reach it' : err instanceof ModelError ? err.code : 'failed';
    return { name: 'dashscope', ok: false, detail: `${config.dashscope.baseUrl}: ${what}: ${message(err)}` };
  } finally {
    await agent.close();
  }
}

/** Creates the table, then runs the checks; settings problems throw a ConfigError instead. */
export async function runSetup(env: Record<string, string | undefined>, options: SetupOptions = {}): Promise<{ ok: boolean; checks: CheckResult[] }> {
  const { config, credentials } = readSetupInputs(env);
  const checks: CheckResult[] = [];
  const record = (check: CheckResult) => {
    checks.push({ name: check.name, ok: check.ok, detail: check.detail });
    options.onCheck?.(checks.at(-1)!);
  };
  const table = await checkTable(config, credentials);
  record(table);
  // A table created a moment ago may take a few seconds to take reads (storage.md §C.2).
  const [reads, bucket, dashscope] = await Promise.all([
    checkReads(config, credentials, table.created ? (options.tableReadyTimeoutMs ?? 30_000) : 0),
    checkBucket(config, credentials),
    checkDashScope(config),
  ]);
  for (const check of [reads, bucket, dashscope]) record(check);
  return { ok: checks.every((c) => c.ok), checks };
}
