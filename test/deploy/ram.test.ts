/**
 * Least privilege, checked against what the code really does: a representative set of flows runs
 * through the local pipeline (real handlers, real SDKs, loopback stand-ins, compressed time) with
 * the functions' OSS, Tablestore and FC traffic going through recording proxies. Every request the
 * functions made — as the OSS and Tablestore emulators name them in RAM terms, and every FC 3.0
 * InvokeFunction of the kick — must be allowed by the policy rendered from deploy/ram-policy.json,
 * on the right resource. The test fails as soon as the code calls an API the policy does not grant
 * (or outside the bucket prefix, the table, the poller), and also when the policy grants an action
 * that none of the flows needed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPollerHandler } from '../../functions/poller/index.js';
import { createSubmitHandler } from '../../functions/submit/index.js';
import { renderPolicy, type RamPolicy } from '../../deploy/ram-policy.js';
import type { FcHandler } from '../../lib/local/fc.js';
import { POLLER_FUNCTION, SUBMIT_FUNCTION } from '../../lib/local/pipeline.js';
import { lineSketch, phonePhoto } from '../helpers/images.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { fcResource, isAllowed, ossResource, otsResource, type RamRequest } from './ram-eval.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let p: TestPipeline;
let proxies: { oss: RecordingProxy; ots: RecordingProxy; fc: RecordingProxy };
let policy: RamPolicy;
let account: string;
let otsFrom = 0;

beforeAll(async () => {
  let submit: FcHandler | undefined;
  let poller: FcHandler | undefined;
  p = await startTestPipeline({
    // No timer at first: the first flow's poller must come from submit's kick (fc:InvokeFunction).
    timer: false,
    // The handlers are built below, once the proxies know where the emulators are.
    handlers: {
      submit: (event, context) => (submit ? submit(event, context) : Promise.reject(new Error('starting'))),
      poller: (event, context) => (poller ? poller(event, context) : Promise.reject(new Error('starting'))),
    },
  });
  // Everything before this point (the table created at start) was the deployer's, not the role's.
  otsFrom = p.stack.tablestore.records.length;
  proxies = {
    oss: await startRecordingProxy(p.env.OSS_ENDPOINT!),
    ots: await startRecordingProxy(p.env.TABLESTORE_ENDPOINT!),
    fc: await startRecordingProxy(p.env.FC_ENDPOINT!),
  };
  const env = { ...p.env, OSS_ENDPOINT: proxies.oss.url, TABLESTORE_ENDPOINT: proxies.ots.url, FC_ENDPOINT: proxies.fc.url };
  const logSink = (line: string) => p.logs.push(line);
  submit = createSubmitHandler({ env, logSink }) as FcHandler;
  poller = createPollerHandler({ env, logSink }) as FcHandler;

  account = p.stack.oss.accountId;
  policy = renderPolicy('function', {
    accountId: account,
    region: 'cn-beijing',
    bucket: p.config.oss.bucket,
    prefix: p.config.sketchPrefix,
    instance: p.config.tablestore.instance,
    table: p.config.tablestore.table,
    pollerFunction: POLLER_FUNCTION,
  });

  const sketch = await lineSketch(512);
  // Success with n = 2 (sidecar first), alone: nothing else runs the poller, so submit kicks it.
  await p.put('sketches/ram/ok.json', JSON.stringify({ prompt: 'a lighthouse', n: 2 }));
  await p.put('sketches/ram/ok.png', sketch);
  expect((await p.waitForManifest('sketches/ram/ok', 20_000)).status).toBe('SUCCEEDED');
  p.fc.startTimer(POLLER_FUNCTION, 300); // the rest as deployed, timer included (the sweep finds MissingPrompt)

  const flows: Array<Promise<unknown>> = [
    // A phone photo: normalized by OSS image processing in the presigned URL; .txt sidecar.
    (async () => {
      await p.put('sketches/ram/photo.txt', 'a house in the rain');
      await p.put('sketches/ram/photo.JPG', await phonePhoto());
      const m = await p.waitForManifest('sketches/ram/photo', 25_000);
      expect(m.request?.normalized).toBe(true);
    })(),
    // A Chinese name: sent from an ASCII staging copy (CopyObject, presigned GET, DeleteObject).
    (async () => {
      await p.put('sketches/ram/中文 草图+1.txt', '一座灯塔');
      await p.put('sketches/ram/中文 草图+1.png', sketch);
      expect((await p.waitForManifest('sketches/ram/中文 草图+1', 20_000)).status).toBe('SUCCEEDED');
    })(),
    // A bad sidecar: the job ends without a task.
    (async () => {
      await p.put('sketches/ram/bad.json', JSON.stringify({ prompt: 'x', styel: 'anime' }));
      await p.put('sketches/ram/bad.png', sketch);
      expect((await p.waitForManifest('sketches/ram/bad', 20_000)).error?.code).toBe('InvalidSidecar');
    })(),
    // No prompt anywhere: MissingPrompt after the (1 s) grace, found by the poller's sweep.
    (async () => {
      await p.put('sketches/ram/lonely.png', sketch);
      expect((await p.waitForManifest('sketches/ram/lonely', 20_000)).error?.code).toBe('MissingPrompt');
    })(),
    // Prompt from a folder _defaults.json and from the object's own metadata.
    (async () => {
      await p.put('sketches/ram/folder/_defaults.json', JSON.stringify({ prompt: 'from the folder' }));
      await p.put('sketches/ram/folder/a.png', sketch);
      await p.put('sketches/ram/meta.png', sketch, { prompt: encodeURIComponent('a boat') });
      await Promise.all([p.waitForManifest('sketches/ram/folder/a', 20_000), p.waitForManifest('sketches/ram/meta', 20_000)]);
    })(),
    // A newer version replaces an older one: outputs rewritten, the extra image deleted.
    (async () => {
      await p.put('sketches/ram/ver.json', JSON.stringify({ prompt: 'first', n: 2 }));
      await p.put('sketches/ram/ver.png', sketch);
      const first = await p.waitForManifest('sketches/ram/ver', 20_000);
      await p.put('sketches/ram/ver.json', JSON.stringify({ prompt: 'second', n: 1 }));
      await p.waitFor('the newer manifest', () => p.manifest('sketches/ram/ver')?.request?.prompt === 'second' && p.manifest('sketches/ram/ver')!.source.sidecar?.etag !== first.source.sidecar?.etag, 20_000);
      await p.waitFor('the older second image to go', () => p.stack.oss.peek('sketches/ram/ver.result-2.png') === undefined, 10_000);
    })(),
  ];
  await Promise.all(flows);
  await p.idle();
}, 90_000);

afterAll(async () => {
  await p?.close();
  await Promise.all(Object.values(proxies ?? {}).map((proxy) => proxy.close()));
});

/** Every request the role made, in RAM terms. */
function roleRequests(): Array<RamRequest & { what: string }> {
  const userKey = p.stack.describe().oss.accessKeyId;
  const out: Array<RamRequest & { what: string }> = [];
  const bucket = p.config.oss.bucket;
  // OSS: the emulator names the RAM action of each request (HEAD and image/info are GetObject…).
  // Requests signed by the test's own long-lived key are the user's uploads, not the role's.
  for (const r of p.stack.oss.records.filter((r) => r.accessKeyId && r.accessKeyId !== userKey)) {
    if (r.action === 'oss:ListObjects') continue; // below, with the prefix the proxy saw
    out.push({ action: r.action, resource: ossResource(account, r.bucket, r.key), what: `${r.method} ${r.key ?? '/'}${r.presigned ? ' (presigned)' : ''}` });
  }
  for (const r of proxies.oss.records.filter((r) => r.method === 'GET' && (r.query.has('list-type') || r.query.has('prefix')))) {
    const prefix = r.query.get('prefix') ?? '';
    out.push({ action: 'oss:ListObjects', resource: ossResource(account, bucket), context: { 'oss:Prefix': prefix }, what: `list ${prefix}` });
  }
  for (const r of p.stack.tablestore.records.slice(otsFrom)) {
    out.push({ action: r.action, resource: otsResource(account, p.config.tablestore.instance, r.table ?? '?'), what: `${r.operation} ${r.table}` });
  }
  for (const r of proxies.fc.records) {
    const fn = decodeURIComponent(/^\/2023-03-30\/functions\/([^/]+)\/invocations$/.exec(r.path)?.[1] ?? '?');
    out.push({ action: r.method === 'POST' ? 'fc:InvokeFunction' : `fc:${r.method}`, resource: fcResource(account, fn), what: `invoke ${fn}` });
  }
  return out;
}

describe('the function role policy (deploy/ram-policy.json) grants what the code calls', () => {
  it('the flows touched every service the policy covers, including the FC 3.0 kick', () => {
    expect(proxies.oss.records.length).toBeGreaterThan(0);
    expect(proxies.ots.records.length).toBeGreaterThan(0);
    expect(proxies.fc.records.length).toBeGreaterThan(0);
    const actions = new Set(roleRequests().map((r) => r.action));
    // Presigned GETs by DashScope are the role's too (the role signed them).
    expect(p.stack.oss.records.some((r) => r.presigned && r.process?.includes('resize'))).toBe(true);
    expect([...actions].sort()).toEqual(expect.arrayContaining(['fc:InvokeFunction', 'oss:DeleteObject', 'oss:GetObject', 'oss:ListObjects', 'oss:PutObject']));
    // The staging calls were made, and checked below: the copy, DashScope's fetch, the cleanup, the sweep's listing.
    const staging = roleRequests().filter((r) => r.resource.includes(`:${p.config.oss.bucket}/${p.config.stagingPrefix}`) || r.context?.['oss:Prefix']?.startsWith(p.config.stagingPrefix));
    expect(new Set(staging.map((r) => r.action))).toEqual(new Set(['oss:PutObject', 'oss:GetObject', 'oss:DeleteObject', 'oss:ListObjects']));
  });

  it('every request the functions made is allowed, on its resource', () => {
    const denied = roleRequests()
      .filter((r) => !isAllowed(policy, r))
      .map((r) => `${r.action} ${r.resource}${r.context ? ` ${JSON.stringify(r.context)}` : ''} (${r.what})`);
    expect([...new Set(denied)]).toEqual([]);
  });

  it('every request the functions made was signed with the STS keys of the role', () => {
    const longLived = p.stack.describe().oss.accessKeyId;
    for (const proxy of [proxies.oss, proxies.ots, proxies.fc]) {
      const keys = new Set(proxy.records.map((r) => r.accessKeyId ?? '(unsigned)'));
      expect([...keys].filter((k) => !k.startsWith('STS.'))).toEqual([]);
      expect(keys.has(longLived)).toBe(false);
    }
    // And to the configured instance only.
    expect(new Set(proxies.ots.records.map((r) => r.headers['x-ots-instancename']))).toEqual(new Set([p.config.tablestore.instance]));
  });

  it('the policy grants nothing the flows did not need', () => {
    const used = new Set(roleRequests().map((r) => r.action.toLowerCase()));
    const granted = policy.Statement.flatMap((s) => s.Action);
    expect(granted.filter((a) => !used.has(a.toLowerCase()))).toEqual([]);
  });

  it('every SDK call the adapters can make (reached by the flows or not) maps to a granted action', () => {
    // The adapters are the only code that calls the SDKs; a call here the flows never reached
    // (a crash or reconcile path) must still be granted. Setup's calls are the deployer's.
    const calls = (file: string, receiver: string) => [...new Set([...readFileSync(path.join(ROOT, file), 'utf8').matchAll(new RegExp(`\\b(?:${receiver})\\.(\\w+)\\(`, 'g'))].map((m) => m[1]!))].sort();
    const OSS_ACTION: Record<string, string> = { get: 'oss:GetObject', head: 'oss:GetObject', signatureUrlV4: 'oss:GetObject', put: 'oss:PutObject', putStream: 'oss:PutObject', copy: 'oss:PutObject', delete: 'oss:DeleteObject', listV2: 'oss:ListObjects' };
    const OTS_ACTION: Record<string, string> = { getRow: 'ots:GetRow', batchGetRow: 'ots:BatchGetRow', getRange: 'ots:GetRange', putRow: 'ots:PutRow', deleteRow: 'ots:DeleteRow', describeTable: 'setup', createTable: 'setup' };
    const ossCalls = calls('lib/adapters/oss.ts', 'data|signer');
    const otsCalls = calls('lib/adapters/tablestore.ts', 'client');
    expect(ossCalls).toEqual(expect.arrayContaining(['get', 'put', 'listV2', 'signatureUrlV4'])); // the scan sees the calls
    expect(otsCalls).toEqual(expect.arrayContaining(['getRow', 'putRow', 'getRange']));
    expect(ossCalls.filter((m) => !OSS_ACTION[m]), 'an OSS call with no RAM action mapped here').toEqual([]);
    expect(otsCalls.filter((m) => !OTS_ACTION[m]), 'a Tablestore call with no RAM action mapped here').toEqual([]);
    const granted = new Set(policy.Statement.flatMap((st) => st.Action));
    const needed = [...ossCalls.map((m) => OSS_ACTION[m]!), ...otsCalls.map((m) => OTS_ACTION[m]!).filter((a) => a !== 'setup')];
    expect(needed.filter((a) => !granted.has(a))).toEqual([]);
    const setupGranted = new Set(renderPolicy('setup', { accountId: account, region: 'cn-beijing', bucket: p.config.oss.bucket, prefix: 'sketches/', instance: p.config.tablestore.instance, table: p.config.tablestore.table, pollerFunction: POLLER_FUNCTION }).Statement.flatMap((st) => st.Action));
    expect(['ots:DescribeTable', 'ots:CreateTable'].filter((a) => !setupGranted.has(a))).toEqual([]);
  });

  it('and is not vacuous: neighbouring requests are denied', () => {
    const bucket = p.config.oss.bucket;
    const { instance, table } = p.config.tablestore;
    const denied: RamRequest[] = [
      { action: 'oss:PutObject', resource: ossResource(account, bucket, 'elsewhere/x.png') },
      { action: 'oss:PutObject', resource: ossResource(account, bucket, 'sketchflow-staging-other/x.png') },
      { action: 'oss:PutObjectAcl', resource: ossResource(account, bucket, 'sketchflow-staging/x.png') },
      { action: 'oss:ListObjects', resource: ossResource(account, bucket), context: { 'oss:Prefix': 'sketchflow-stagingX' } },
      { action: 'oss:GetObject', resource: ossResource(account, 'another-bucket', 'sketches/x.png') },
      { action: 'oss:ListObjects', resource: ossResource(account, bucket), context: { 'oss:Prefix': '' } },
      { action: 'oss:ListObjects', resource: ossResource(account, bucket) },
      { action: 'oss:DeleteBucket', resource: ossResource(account, bucket) },
      { action: 'oss:PutObjectAcl', resource: ossResource(account, bucket, 'sketches/x.png') },
      { action: 'ots:CreateTable', resource: otsResource(account, instance, table) },
      { action: 'ots:DeleteTable', resource: otsResource(account, instance, table) },
      { action: 'ots:UpdateRow', resource: otsResource(account, instance, table) },
      { action: 'ots:GetRow', resource: otsResource(account, instance, 'other_table') },
      { action: 'ots:GetRow', resource: otsResource(account, 'other-instance', table) },
      { action: 'fc:InvokeFunction', resource: fcResource(account, SUBMIT_FUNCTION) },
      { action: 'fc:UpdateFunction', resource: fcResource(account, POLLER_FUNCTION) },
    ];
    expect(denied.filter((r) => isAllowed(policy, r))).toEqual([]);
  });
});
