/**
 * Function Compute instances as fresh `node` processes running the built bundles (fc-instance.cjs),
 * driven from the test process: the event goes over as a Buffer, the context is FC-shaped, and the
 * child sees only the function's environment plus FC's built-in variables, as on the platform.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { FcHandler, FcInvocationContext } from '../../lib/local/fc.js';

const RUNNER = path.join(import.meta.dirname, '../../lib/local/fc-instance.cjs');

export interface InstanceReady {
  loadMs: number;
  exports: string[];
  rss: number;
  /** The code folder's files required by then (index.js; the SDK files come on first use). */
  loaded: string[];
}

export interface InvocationReply {
  id: string;
  ok: boolean;
  result?: unknown;
  error?: string;
  ms: number;
  rss: number;
  maxRssKb: number;
  loaded: string[];
}

export interface FcInstance {
  name: string;
  ready: Promise<InstanceReady>;
  /** Every line the instance printed (its JSON logs). */
  output: string[];
  replies: InvocationReply[];
  invoke(event: Buffer, context: FcInvocationContext): Promise<InvocationReply>;
  close(): Promise<void>;
}

export interface InstanceOptions {
  name: string;
  codeDir: string;
  handler?: string;
  /** The function's environment variables (s.yaml `environmentVariables`). */
  env: Record<string, string>;
  memory?: number;
  region?: string;
  accountId?: string;
}

export function startInstance(options: InstanceOptions): FcInstance {
  const handler = options.handler ?? 'index.handler';
  const env: Record<string, string> = {
    ...options.env,
    // Built-in variables FC sets in every instance (fc.md §1.4).
    FC_FUNCTION_NAME: options.name,
    FC_FUNCTION_HANDLER: handler,
    FC_FUNCTION_MEMORY_SIZE: String(options.memory ?? 512),
    FC_REGION: options.region ?? 'cn-beijing',
    FC_ACCOUNT_ID: options.accountId ?? '1234567890123456',
    FC_FUNC_CODE_PATH: options.codeDir,
  };
  const child: ChildProcess = spawn(process.execPath, [RUNNER, options.codeDir, handler], {
    cwd: options.codeDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const replies: InvocationReply[] = [];
  const pending = new Map<string, (reply: InvocationReply) => void>();
  let buffered = '';
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    output.push(...lines.filter((l) => l.length > 0));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited: string | undefined;
  const ready = new Promise<InstanceReady>((resolve, reject) => {
    child.on('message', (msg: { type?: string } & Partial<InvocationReply> & Partial<InstanceReady>) => {
      if (msg.type === 'ready') return resolve(msg as InstanceReady);
      const reply = msg as InvocationReply;
      replies.push(reply);
      pending.get(reply.id)?.(reply);
      pending.delete(reply.id);
    });
    child.on('exit', (code, signal) => {
      exited = `instance ${options.name} exited (${code ?? signal})\n${output.slice(-20).join('\n')}`;
      reject(new Error(exited));
      for (const [id, settle] of pending) settle({ id, ok: false, error: exited, ms: 0, rss: 0, maxRssKb: 0, loaded: [] });
      pending.clear();
    });
  });
  ready.catch(() => undefined);

  return {
    name: options.name,
    ready,
    output,
    replies,
    async invoke(event, context) {
      await ready;
      if (exited) throw new Error(exited);
      const id = randomUUID();
      return new Promise<InvocationReply>((resolve) => {
        pending.set(id, resolve);
        child.send({ id, event: event.toString('base64'), context });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** An FcHandler (for LocalFunctionCompute) that runs each invocation in the instance. */
export function asFcHandler(instance: () => FcInstance | undefined): FcHandler {
  return async (event, context) => {
    const target = instance();
    if (!target) throw new Error('instance not started yet');
    const reply = await target.invoke(event, context);
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  };
}

/** The FC context for one invocation, with STS keys as `context.credentials`. */
export function fcContext(name: string, credentials: FcInvocationContext['credentials'], timeout = 60): FcInvocationContext {
  return {
    requestId: randomUUID(),
    credentials,
    function: { name, handler: 'index.handler', memory: 512, timeout },
    region: 'cn-beijing',
    accountId: '1234567890123456',
  };
}
