/**
 * The composition root of both functions: configuration read once per instance, SDK clients built
 * once per instance (and again only when Function Compute hands out new STS keys), and a CoreDeps
 * per invocation carrying the request id. The adapters are imported on a port's first call, not
 * here (issue 17): a cold submit for an output or an unrelated key never loads an SDK, and in the
 * bundles the SDKs' modules stay uninitialized until a call needs them.
 */
import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger, type LogSink } from './log.js';
import { registerSecret } from './redact.js';
import { createPollerKicker } from './adapters/fc.js';
import { credentialsFingerprint, type CloudCredentials } from './adapters/credentials.js';
import { deferred } from './adapters/deferred.js';
import type { Checkpoint, CoreDeps } from './core/deps.js';
import { systemClock, type Clock, type ImageModel, type ObjectStore, type PollerKicker, type RowStore } from './core/ports.js';

/** The parts of the FC context we use (fc.md §1.4). */
export interface FcContext {
  requestId?: string;
  credentials?: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string };
  function?: { name?: string; timeout?: number };
  region?: string;
  accountId?: string;
}

export interface RuntimeOptions {
  env?: Record<string, string | undefined>;
  logSink?: LogSink;
  clock?: Clock;
  /** Tests and the soak run crash functions at named steps through this. */
  checkpoint?: Checkpoint;
  /** Replaces the FC kick (local runner passes one that invokes the poller in-process). */
  kicker?: PollerKicker;
  /**
   * Wraps the adapters (the soak run counts and breaks things through this). Production never
   * sets it.
   */
  decorate?: PortDecorators;
}

export interface PortDecorators {
  rows?: (rows: RowStore) => RowStore;
  objects?: (objects: ObjectStore) => ObjectStore;
  model?: (model: ImageModel) => ImageModel;
}

export interface Runtime {
  config: Config;
  log: Logger;
  depsFor(context: FcContext, fn: 'submit' | 'poller'): CoreDeps;
}

function credentialsFrom(context: FcContext, env: Record<string, string | undefined>): CloudCredentials {
  const c = context.credentials ?? {};
  // FC also exposes the role's keys as environment variables (fc.md §1.4).
  const accessKeyId = c.accessKeyId ?? env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const accessKeySecret = c.accessKeySecret ?? env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  const securityToken = c.securityToken ?? env.ALIBABA_CLOUD_SECURITY_TOKEN;
  if (!accessKeyId || !accessKeySecret) {
    throw new Error('no credentials: give the function a role (s.yaml `role`) so Function Compute passes context.credentials');
  }
  registerSecret(accessKeySecret);
  registerSecret(securityToken);
  return { accessKeyId, accessKeySecret, ...(securityToken ? { securityToken } : {}) };
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const log = createLogger({ level: config.logLevel, sink: options.logSink });
  const clock = options.clock ?? systemClock;
  const decorate = options.decorate ?? {};
  const baseModel = deferred<ImageModel>(async () => (await import('./adapters/dashscope.js')).createImageModel(config.dashscope), {
    createTask: true,
    getTask: true,
    cancelTask: true,
    listLiveTasks: true,
    downloadResult: true,
  });
  const model: ImageModel = decorate.model ? decorate.model(baseModel) : baseModel;
  const inFc = Boolean(env.FC_FUNCTION_NAME) && !config.oss.endpoint;
  let cached: { fingerprint: string; objects: ObjectStore; rows: RowStore; kicker?: PollerKicker } | undefined;

  function clientsFor(credentials: CloudCredentials) {
    const fingerprint = credentialsFingerprint(credentials);
    if (cached?.fingerprint === fingerprint) return cached;
    const kicker =
      options.kicker ??
      (config.fc.pollerFunctionName
        ? createPollerKicker(
            { functionName: config.fc.pollerFunctionName, endpoint: config.fc.endpoint, accountId: config.fc.accountId, region: config.fc.region },
            credentials,
          )
        : undefined);
    cached = {
      fingerprint,
      objects: (decorate.objects ?? ((o: ObjectStore) => o))(
        deferred<ObjectStore>(async () => (await import('./adapters/oss.js')).createObjectStore({ ...config.oss, internal: inFc }, credentials), {
          list: true,
          listPage: true,
          copy: true,
          head: true,
          getRange: true,
          imageInfo: true,
          put: true,
          delete: true,
          presignGet: true,
        }),
      ),
      rows: (decorate.rows ?? ((r: RowStore) => r))(
        deferred<RowStore>(async () => (await import('./adapters/tablestore.js')).createRowStore(config.tablestore, credentials), {
          get: true,
          getMany: true,
          put: true,
          delete: true,
          scan: true,
        }),
      ),
      ...(kicker ? { kicker } : {}),
    };
    return cached;
  }

  return {
    config,
    log,
    depsFor(context, fn) {
      const requestId = context.requestId ?? `${fn}-${clock.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      const clients = clientsFor(credentialsFrom(context, env));
      const timeoutS = context.function?.timeout;
      return {
        // FC stops the invocation at its timeout: the core's leases on outputs reach past it.
        ...(timeoutS ? { deadline: clock.now() + timeoutS * 1000 } : {}),
        config,
        objects: clients.objects,
        rows: clients.rows,
        model,
        clock,
        log: log.child({ fn, requestId }),
        owner: requestId,
        ...(clients.kicker ? { kicker: clients.kicker } : {}),
        ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
      };
    },
  };
}
