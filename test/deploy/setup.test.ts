/**
 * `sketchflow setup` against the emulators (SPEC §7): creates the table once (idempotent), reports
 * one line per check, exits 0 / 1 / 2, never prints a secret, and calls only what
 * deploy/setup-policy.json grants the deployer.
 */
import TableStore from 'tablestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFor, startLocalStack, type LocalStack } from '../../lib/local/stack.js';
import { renderPolicy } from '../../deploy/ram-policy.js';
import { isAllowed, ossResource, otsResource, type RamRequest } from './ram-eval.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';
import { runMain } from '../cli/helpers.js';
import { clientFor, createTable } from '../integration/tablestore-helpers.js';

let stack: LocalStack;
let env: Record<string, string>;
const printed: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({});
  const d = stack.describe();
  env = {
    ...settingsFor(d),
    ALIBABA_CLOUD_ACCESS_KEY_ID: d.oss.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: d.oss.accessKeySecret,
  };
});

afterAll(async () => {
  await stack?.close();
});

/** `sketchflow setup` in this process; everything it prints is kept for the secrets check. */
async function setup(overrides: Record<string, string | undefined> = {}, args: string[] = []) {
  const r = await runMain(['setup', ...args], { ...env, ...overrides });
  printed.push(r.stdout, r.stderr);
  return { ...r, lines: r.stdout.trim().split('\n') };
}

describe('sketchflow setup', () => {
  it('creates the table, then every check passes: exit 0, one line per check', async () => {
    const r = await setup();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok table', 'ok tablestore', 'ok bucket', 'ok dashscope', 'setup: every']);
    expect(r.lines[0]).toContain('sketchflow_jobs in instance sketchflow: created (kind STRING, id STRING)');
    expect(r.stderr).toBe('');
    expect(stack.tablestore.records.filter((x) => x.action === 'ots:CreateTable' && x.status === 200)).toHaveLength(1);
    // Rows never expire on their own (finished jobs are how duplicates are recognised), one version each.
    const client = clientFor(stack.tablestore);
    const described = await client.describeTable({ tableName: 'sketchflow_jobs' });
    expect(described.tableOptions).toMatchObject({ timeToLive: -1, maxVersions: 1 });
    expect(described.tableMeta.primaryKey.map((k) => [k.name, k.type])).toEqual([['kind', TableStore.PrimaryKeyType.STRING], ['id', TableStore.PrimaryKeyType.STRING]]);
  });

  it('is idempotent: a second run finds the table and creates nothing', async () => {
    const creates = stack.tablestore.records.filter((x) => x.action === 'ots:CreateTable').length;
    const r = await setup();
    expect(r.code).toBe(0);
    expect(r.lines[0]).toContain(': exists (kind STRING, id STRING)');
    expect(stack.tablestore.records.filter((x) => x.action === 'ots:CreateTable').length).toBe(creates);
  });

  it('a bad DashScope key: exit 1, the dashscope line says so, one line on stderr', async () => {
    const r = await setup({ DASHSCOPE_API_KEY: 'sk-00000000000000000000000000000000' });
    expect(r.code).toBe(1);
    expect(r.lines.find((l) => l.startsWith('FAIL'))).toMatch(/^FAIL {2}dashscope .*rejects DASHSCOPE_API_KEY \(InvalidApiKey\)/);
    expect(r.lines.filter((l) => l.startsWith('FAIL'))).toHaveLength(1);
    expect(r.stderr).toBe('sketchflow: setup: 1 check(s) failed (dashscope)\n');
  });

  it('a bucket that does not exist, and wrong keys: exit 1 with the failing checks named', async () => {
    const missing = await setup({ OSS_BUCKET: 'no-such-bucket' });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/FAIL {2}bucket {5}no-such-bucket \(oss-cn-beijing\): NoSuchBucket/);
    const wrong = await setup({ ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-right-secret' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('sketchflow: setup: 3 check(s) failed (table, tablestore, bucket)\n');
  });

  it('a table of the same name with another key schema is reported, not touched', async () => {
    await createTable(clientFor(stack.tablestore), 'someone_else', [['pk', 'STRING']]);
    const r = await setup({ TABLESTORE_TABLE: 'someone_else' });
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^FAIL {2}table .*exists with primary key \(pk\); sketchflow needs \(kind STRING, id STRING\)/);
  });

  it('missing or invalid settings and credentials: exit 2, one line naming each, nothing checked', async () => {
    const before = stack.tablestore.records.length;
    const r = await setup({ DASHSCOPE_API_KEY: undefined, ALIBABA_CLOUD_ACCESS_KEY_ID: undefined, OSS_BUCKET: 'Not_A_Bucket' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^sketchflow: invalid configuration: .*DASHSCOPE_API_KEY is required.*OSS_BUCKET must be a bucket name.*ALIBABA_CLOUD_ACCESS_KEY_ID is required/);
    expect(stack.tablestore.records.length).toBe(before);
    const sts = await setup({ ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.example' });
    expect(sts.code).toBe(2);
    expect(sts.stderr).toContain('ALIBABA_CLOUD_SECURITY_TOKEN is required with STS keys');
    expect((await setup({}, ['extra'])).code).toBe(2);
  });

  it('never prints a secret', () => {
    const all = printed.join('\n');
    expect(printed.length).toBeGreaterThan(10);
    for (const secret of [env.ALIBABA_CLOUD_ACCESS_KEY_SECRET!, env.DASHSCOPE_API_KEY!, 'not-the-right-secret']) expect(all).not.toContain(secret);
  });
});

describe('setup calls only what deploy/setup-policy.json grants the deployer', () => {
  let proxies: RecordingProxy[] = [];

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  it('every request is allowed on its resource', async () => {
    const [oss, ots] = (proxies = [await startRecordingProxy(env.OSS_ENDPOINT!), await startRecordingProxy(env.TABLESTORE_ENDPOINT!)]);
    const from = stack.tablestore.records.length;
    const fromOss = stack.oss.records.length;
    const r = await setup({ OSS_ENDPOINT: oss!.url, TABLESTORE_ENDPOINT: ots!.url, TABLESTORE_TABLE: 'setup_policy_probe' });
    expect(r.code, r.stdout).toBe(0);
    const d = stack.describe();
    const account = stack.oss.accountId;
    const policy = renderPolicy('setup', { accountId: account, region: 'cn-beijing', bucket: d.oss.bucket, prefix: 'sketches/', instance: d.tablestore.instance, table: 'setup_policy_probe', pollerFunction: 'sketchflow-poller' });
    const requests: RamRequest[] = [
      ...stack.tablestore.records.slice(from).map((x) => ({ action: x.action, resource: otsResource(account, d.tablestore.instance, x.table ?? '?') })),
      ...stack.oss.records.slice(fromOss).filter((x) => x.action !== 'oss:ListObjects').map((x) => ({ action: x.action, resource: ossResource(account, x.bucket, x.key) })),
      ...oss!.records.map((x) => ({ action: 'oss:ListObjects', resource: ossResource(account, d.oss.bucket), context: { 'oss:Prefix': x.query.get('prefix') ?? '' } })),
    ];
    expect(new Set(requests.map((x) => x.action))).toEqual(new Set(['ots:DescribeTable', 'ots:CreateTable', 'ots:GetRow', 'oss:ListObjects']));
    expect(requests.filter((x) => !isAllowed(policy, x))).toEqual([]);
  });
});
