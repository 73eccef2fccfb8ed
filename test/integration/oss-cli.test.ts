/**
 * `sketchflow emulators --json` prints one JSON line whose endpoints and keys work with the real
 * ali-oss and tablestore SDKs and plain HTTP to the DashScope simulator (SPEC §7). Runs the
 * command as a child process, as a user would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import OSS from 'ali-oss';
import TableStore from 'tablestore';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

it('prints one JSON line whose endpoints and keys work with ali-oss, tablestore and HTTP', async () => {
  const child = spawn(process.execPath, ['bin/sketchflow.mjs', 'emulators', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no JSON line within 15 s; stderr: ${stderr}`)), 15_000);
      child.stdout.on('data', () => {
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          resolve(stdout.slice(0, stdout.indexOf('\n')));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before printing; stderr: ${stderr}`));
      });
    });
    const endpoints = JSON.parse(line) as {
      oss: { endpoint: string; bucket: string; region: string; accessKeyId: string; accessKeySecret: string };
      tablestore: { endpoint: string; instance: string; accessKeyId: string; accessKeySecret: string };
      dashscope: { baseUrl: string; apiKey: string };
    };
    expect(endpoints.oss.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new OSS({ ...endpoints.oss, authorizationV4: true } as OSS.Options);
    await client.put('cli/hello.txt', Buffer.from('hello from the CLI test'));
    expect((await client.get('cli/hello.txt')).content.toString()).toBe('hello from the CLI test');
    expect((await client.listV2({ prefix: 'cli/' }, {})).objects.map((o) => o.name)).toEqual(['cli/hello.txt']);
    const url = await client.signatureUrlV4('GET', 60, undefined, 'cli/hello.txt');
    expect(await (await fetch(url)).text()).toBe('hello from the CLI test');

    const ots = new TableStore.Client({ ...endpoints.tablestore, instancename: endpoints.tablestore.instance, maxRetries: 0 });
    expect(Array.isArray((await ots.listTable({})).tableNames)).toBe(true);

    const tasks = await fetch(`${endpoints.dashscope.baseUrl}/tasks`, { headers: { Authorization: `Bearer ${endpoints.dashscope.apiKey}` } });
    expect(tasks.status).toBe(200);
    const refused = await fetch(`${endpoints.dashscope.baseUrl}/tasks`, { headers: { Authorization: 'Bearer sk-wrong' } });
    expect(refused.status).toBe(401);

    // Exactly one line so far: the command prints nothing else on stdout.
    expect(stdout.trim().split('\n')).toHaveLength(1);
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
});
