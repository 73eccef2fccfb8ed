/**
 * `sketchflow emulators --json` prints one JSON line whose OSS endpoint and keys work with the
 * real ali-oss SDK (SPEC §7). Runs the command as a child process, as a user would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import OSS from 'ali-oss';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

it('prints one JSON line whose oss endpoint and keys work with ali-oss', async () => {
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
    const endpoints = JSON.parse(line) as { oss: { endpoint: string; bucket: string; region: string; accessKeyId: string; accessKeySecret: string } };
    expect(endpoints.oss.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new OSS({ ...endpoints.oss, authorizationV4: true } as OSS.Options);
    await client.put('cli/hello.txt', Buffer.from('hello from the CLI test'));
    expect((await client.get('cli/hello.txt')).content.toString()).toBe('hello from the CLI test');
    expect((await client.listV2({ prefix: 'cli/' }, {})).objects.map((o) => o.name)).toEqual(['cli/hello.txt']);
    const url = await client.signatureUrlV4('GET', 60, undefined, 'cli/hello.txt');
    expect(await (await fetch(url)).text()).toBe('hello from the CLI test');
    // Exactly one line so far: the command prints nothing else on stdout.
    expect(stdout.trim().split('\n')).toHaveLength(1);
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
});
