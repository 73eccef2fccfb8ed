/**
 * `sketchflow emulators --json` prints one JSON line whose endpoints and keys work with the real
 * ali-oss and tablestore SDKs and plain HTTP to the DashScope simulator (SPEC §7). Runs the
 * command as a child process, as a user would.
 */
import OSS from 'ali-oss';
import TableStore from 'tablestore';
import { afterAll, expect, it } from 'vitest';
import type { EmulatorEndpoints } from '../../lib/local/stack.js';
import { killAll, sketchflow } from '../cli/helpers.js';

afterAll(() => killAll());

it('prints one JSON line whose endpoints and keys work with ali-oss, tablestore and HTTP', async () => {
  const cli = sketchflow(['emulators', '--json']);
  const [, line] = await cli.waitForOutput(/^(.*)\n/, 15_000);
  const endpoints = JSON.parse(line!) as EmulatorEndpoints & { oss: { regionId: string } };
  expect(endpoints.oss.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  // Both forms of the region: ali-oss's, and the region id V4 clients sign with.
  expect([endpoints.oss.region, endpoints.oss.regionId]).toEqual(['oss-cn-beijing', 'cn-beijing']);
  const { regionId, ...aliOss } = endpoints.oss;
  const client = new OSS({ ...aliOss, authorizationV4: true } as OSS.Options);
  await client.put('cli/hello.txt', Buffer.from('hello from the CLI test'));
  expect((await client.get('cli/hello.txt')).content.toString()).toBe('hello from the CLI test');
  expect((await client.listV2({ prefix: 'cli/' }, {})).objects.map((o) => o.name)).toEqual(['cli/hello.txt']);
  const url = await client.signatureUrlV4('GET', 60, undefined, 'cli/hello.txt');
  expect(await (await fetch(url)).text()).toBe('hello from the CLI test');
  // The region id is what goes into a V4 credential scope.
  expect(new URL(url).searchParams.get('x-oss-credential')).toContain(`/${regionId}/oss/aliyun_v4_request`);

  const ots = new TableStore.Client({ ...endpoints.tablestore, instancename: endpoints.tablestore.instance, maxRetries: 0 });
  expect(Array.isArray((await ots.listTable({})).tableNames)).toBe(true);

  const tasks = await fetch(`${endpoints.dashscope.baseUrl}/tasks`, { headers: { Authorization: `Bearer ${endpoints.dashscope.apiKey}` } });
  expect(tasks.status).toBe(200);
  const refused = await fetch(`${endpoints.dashscope.baseUrl}/tasks`, { headers: { Authorization: 'Bearer sk-wrong' } });
  expect(refused.status).toBe(401);

  // Exactly one line so far: the command prints nothing else on stdout.
  expect(cli.stdout.trim().split('\n')).toHaveLength(1);
});
