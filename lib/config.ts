/**
 * Configuration (SPEC §6): read once from the environment, validated together; a bad or missing
 * value stops with one message naming every problem. Credentials are not configuration: they come
 * from the function role (`context.credentials`).
 */
import * as z from 'zod';
import { ConfigError } from './errors.js';
import { registerSecret } from './redact.js';
import { normalizeStyle, STYLES } from './contract/styles.js';
import { costMilliCny, isKnownModel, LEGACY_MODEL, MODEL_NAMES, modelSpec } from './models/index.js';

const seconds = (def: number, min = 0, unit = 'seconds') => {
  const message = `must be a number of ${unit} ≥ ${min}`;
  return z.coerce
    .number({ error: message })
    .refine((v) => Number.isFinite(v) && v >= min, { message })
    .default(def);
};

const integer = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  const message = max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer ${min}–${max}`;
  return z.coerce
    .number({ error: message })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, { message })
    .default(def);
};

/** A decimal number ≥ 0 (CNY). */
const amount = (def: number) => {
  const message = 'must be an amount ≥ 0';
  return z.coerce
    .number({ error: message })
    .refine((v) => Number.isFinite(v) && v >= 0, { message })
    .default(def);
};

const modelName = z
  .string()
  .trim()
  .default(LEGACY_MODEL)
  .refine((v) => isKnownModel(v), { message: `must be one of ${MODEL_NAMES.join(', ')}` });

/** `MODELS`: names separated by commas or spaces; every known model by default. */
const modelList = z
  .string()
  .default(MODEL_NAMES.join(','))
  .transform((v) => [...new Set(v.split(/[\s,]+/).filter(Boolean))])
  .refine((list) => list.length > 0 && list.every(isKnownModel), { message: `must list models among ${MODEL_NAMES.join(', ')}, separated by commas` });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const url = (def: string) =>
  z
    .string()
    .default(def)
    .refine((v) => /^https?:\/\/[^\s/]+/.test(v), { message: 'must be an http(s) URL' })
    .transform((v) => v.replace(/\/+$/, ''));

export const ConfigSchema = z.object({
  DASHSCOPE_API_KEY: z.string({ error: 'is required' }).trim().min(1, { message: 'is required' }),
  DASHSCOPE_BASE_URL: url('https://dashscope.aliyuncs.com/api/v1'),
  DASHSCOPE_WORKSPACE: optionalString,
  /** Per request to DashScope; a create that times out is reconciled, never blindly resent. */
  DASHSCOPE_TIMEOUT_SECONDS: seconds(15, 0.05),
  OSS_BUCKET: z.string({ error: 'is required' }).trim().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, {
    message: 'must be a bucket name (3–63 lowercase letters, digits, hyphens)',
  }),
  OSS_REGION: z.string().trim().regex(/^oss-[a-z0-9-]+$/, { message: "must look like 'oss-cn-beijing'" }).default('oss-cn-beijing'),
  OSS_ENDPOINT: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), { message: 'must be an http(s) URL' }),
  TABLESTORE_ENDPOINT: z.string({ error: 'is required' }).trim().refine((v) => /^https?:\/\/[^\s/]+/.test(v), {
    message: "must be an http(s) URL like 'https://<instance>.cn-beijing.ots.aliyuncs.com'",
  }),
  TABLESTORE_INSTANCE: z.string({ error: 'is required' }).trim().regex(/^[A-Za-z][A-Za-z0-9-]{2,15}$/, {
    message: 'must be a Tablestore instance name (3–16 letters, digits, hyphens, starting with a letter)',
  }),
  TABLESTORE_TABLE: z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, { message: 'must be a table name (letters, digits, _)' }).default('sketchflow_jobs'),
  SKETCH_PREFIX: z
    .string()
    .default('sketches/')
    .refine((v) => v === '' || (v.endsWith('/') && !v.startsWith('/')), { message: "must be a folder like 'sketches/' (ending in /, not starting with /)" }),
  /**
   * Where sketches whose keys cannot go into DashScope's URL (CJK, spaces, `%`, …) are copied for
   * the create (SPEC §1): an ASCII folder outside SKETCH_PREFIX (see loadConfig).
   */
  STAGING_PREFIX: z
    .string()
    .default('sketchflow-staging/')
    .refine((v) => /^([A-Za-z0-9_~-][A-Za-z0-9._~-]*\/)+$/.test(v) && !v.split('/').some((s) => s === '.' || s === '..'), {
      message: "must be an ASCII folder like 'sketchflow-staging/' (letters, digits, . _ ~ -; ending in /, not starting with / or .)",
    }),
  DEFAULT_STYLE: z
    .string()
    .default('<auto>')
    .refine((v) => normalizeStyle(v) !== undefined, { message: `must be one of ${STYLES.join(' ')}` })
    .transform((v) => normalizeStyle(v)!),
  DEFAULT_N: integer(1, 1, 4),
  /** The model of a sketch whose sources name none (SPEC §2). */
  DEFAULT_MODEL: modelName,
  /** The models this deployment sends to; a sketch asking for another is an error that names these. */
  MODELS: modelList,
  FIT: z.enum(['pad', 'crop', 'reject'], { error: "must be 'pad', 'crop' or 'reject'" }).default('pad'),
  MAX_IN_FLIGHT: integer(2, 1, 16),
  MAX_ATTEMPTS: integer(3, 1, 10),
  MAX_IMAGES_PER_DAY: integer(500, 0),
  /** CNY a day (Asia/Shanghai) at each model's price; 0 = no limit (MAX_IMAGES_PER_DAY still applies). */
  MAX_CNY_PER_DAY: amount(0),
  MAX_QUEUE_HOURS: seconds(24, 0, 'hours'),
  SKETCH_URL_TTL_SECONDS: integer(1800, 60, 7 * 24 * 3600),
  POLL_INTERVAL_SECONDS: seconds(2, 0.01),
  POLL_BUDGET_SECONDS: seconds(50, 0.1),
  PROMPT_GRACE_SECONDS: seconds(600, 0),
  /**
   * DashScope's completion events reach the poller (the EventBridge trigger of s.yaml): while every
   * task in flight can only end, the poller stops and lets their events wake it. `off`: it polls
   * throughout (no trigger, or a DashScope that cannot reach us, like the real model in local mode).
   */
  TASK_EVENTS: z.enum(['on', 'off'], { error: "must be 'on' or 'off'" }).default('on'),
  /**
   * While it rests on events, the poller asks for one delayed kick this far ahead (the safety net
   * for a lost event: it delays a result by at most this, or less when another event comes first).
   */
  EVENT_SAFETY_SECONDS: seconds(30, 1),
  /**
   * After DashScope refused the account (key, billing, purchase), how long submission waits before
   * one probe; doubles per refused probe, up to 16×. Jobs stay QUEUED meanwhile.
   */
  ACCOUNT_RETRY_SECONDS: seconds(60, 0.01),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], { error: "must be 'debug', 'info', 'warn' or 'error'" }).default('info'),
  /** Name of the poller function, for the continuation kick (README: "Why the FC 3.0 client"). Empty = no kick. */
  POLLER_FUNCTION_NAME: optionalString,
  /** FC 3.0 API endpoint override (local mode); by default built from FC_ACCOUNT_ID and FC_REGION. */
  FC_ENDPOINT: optionalString,
  FC_ACCOUNT_ID: optionalString,
  FC_REGION: optionalString,
});

type Parsed = z.output<typeof ConfigSchema>;

export interface Config {
  dashscope: { apiKey: string; baseUrl: string; workspace?: string; timeoutMs: number };
  oss: { bucket: string; region: string; endpoint?: string };
  tablestore: { endpoint: string; instance: string; table: string };
  sketchPrefix: string;
  stagingPrefix: string;
  defaults: { style: string; n: number; model: string };
  /** MODELS, in the order given. */
  models: string[];
  fit: 'pad' | 'crop' | 'reject';
  /** The in-flight bound of a model that runs one task at a time; a model running c gets c − 1 more (lib/models inFlightLimit). */
  maxInFlight: number;
  maxAttempts: number;
  maxImagesPerDay: number;
  /** MAX_CNY_PER_DAY in thousandths of a yuan (integers for the budget row); 0 = no limit. */
  maxMilliCnyPerDay: number;
  maxQueueMs: number;
  sketchUrlTtlSeconds: number;
  pollIntervalMs: number;
  pollBudgetMs: number;
  promptGraceMs: number;
  taskEvents: boolean;
  eventSafetyMs: number;
  accountRetryMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  fc: { pollerFunctionName?: string; endpoint?: string; accountId?: string; region?: string };
}

function toConfig(p: Parsed): Config {
  return {
    dashscope: { apiKey: p.DASHSCOPE_API_KEY, baseUrl: p.DASHSCOPE_BASE_URL, workspace: p.DASHSCOPE_WORKSPACE, timeoutMs: p.DASHSCOPE_TIMEOUT_SECONDS * 1000 },
    oss: { bucket: p.OSS_BUCKET, region: p.OSS_REGION, endpoint: p.OSS_ENDPOINT },
    tablestore: { endpoint: p.TABLESTORE_ENDPOINT.replace(/\/+$/, ''), instance: p.TABLESTORE_INSTANCE, table: p.TABLESTORE_TABLE },
    sketchPrefix: p.SKETCH_PREFIX,
    stagingPrefix: p.STAGING_PREFIX,
    defaults: { style: p.DEFAULT_STYLE, n: p.DEFAULT_N, model: p.DEFAULT_MODEL },
    models: p.MODELS,
    fit: p.FIT,
    maxInFlight: p.MAX_IN_FLIGHT,
    maxAttempts: p.MAX_ATTEMPTS,
    maxImagesPerDay: p.MAX_IMAGES_PER_DAY,
    maxMilliCnyPerDay: Math.round(p.MAX_CNY_PER_DAY * 1000),
    maxQueueMs: p.MAX_QUEUE_HOURS * 3600_000,
    sketchUrlTtlSeconds: p.SKETCH_URL_TTL_SECONDS,
    pollIntervalMs: p.POLL_INTERVAL_SECONDS * 1000,
    pollBudgetMs: p.POLL_BUDGET_SECONDS * 1000,
    promptGraceMs: p.PROMPT_GRACE_SECONDS * 1000,
    taskEvents: p.TASK_EVENTS === 'on',
    eventSafetyMs: p.EVENT_SAFETY_SECONDS * 1000,
    accountRetryMs: p.ACCOUNT_RETRY_SECONDS * 1000,
    logLevel: p.LOG_LEVEL,
    fc: { pollerFunctionName: p.POLLER_FUNCTION_NAME, endpoint: p.FC_ENDPOINT, accountId: p.FC_ACCOUNT_ID, region: p.FC_REGION },
  };
}

/** Every setting name the functions read (s.yaml must pass each one; a test checks). */
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as Array<keyof typeof ConfigSchema.shape>;

/** Reads and validates the configuration; throws one ConfigError naming every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[key];
    // An empty variable means "not set" (s.yaml renders unset optional values as '').
    input[key] = value === '' ? undefined : value;
  }
  const result = ConfigSchema.superRefine((c, ctx) => {
    // A default that can never be sent would wedge every job that takes it (issue 13 run 9).
    if (c.MAX_IMAGES_PER_DAY > 0 && c.DEFAULT_N > c.MAX_IMAGES_PER_DAY) {
      ctx.addIssue({ code: 'custom', path: ['DEFAULT_N'], message: `must be at most MAX_IMAGES_PER_DAY (${c.MAX_IMAGES_PER_DAY}), or no job that takes it could ever be sent` });
    }
    // Staging copies must never look like uploads, nor uploads like staging copies. With the whole
    // bucket watched (SKETCH_PREFIX '') the staging folder is inside it and classifyKey ignores it.
    if (c.SKETCH_PREFIX !== '' && (c.STAGING_PREFIX.startsWith(c.SKETCH_PREFIX) || c.SKETCH_PREFIX.startsWith(c.STAGING_PREFIX))) {
      ctx.addIssue({ code: 'custom', path: ['STAGING_PREFIX'], message: `must be a folder outside SKETCH_PREFIX ('${c.SKETCH_PREFIX}'), and not contain it` });
    }
    if (isKnownModel(c.DEFAULT_MODEL) && !c.MODELS.includes(c.DEFAULT_MODEL)) {
      ctx.addIssue({ code: 'custom', path: ['DEFAULT_MODEL'], message: `must be one of MODELS (${c.MODELS.join(', ')})` });
    }
    const maxMilli = Math.round(c.MAX_CNY_PER_DAY * 1000);
    if (maxMilli > 0 && isKnownModel(c.DEFAULT_MODEL) && costMilliCny(modelSpec(c.DEFAULT_MODEL), c.DEFAULT_N) > maxMilli) {
      ctx.addIssue({ code: 'custom', path: ['MAX_CNY_PER_DAY'], message: `must allow DEFAULT_N (${c.DEFAULT_N}) images of DEFAULT_MODEL (CNY ${modelSpec(c.DEFAULT_MODEL).priceCny} each), or no job that takes them could ever be sent` });
    }
  }).safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const got = input[name];
      const shown = got === undefined || name === 'DASHSCOPE_API_KEY' ? '' : ` (got ${JSON.stringify(got)})`;
      return `${name} ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  registerSecret(result.data.DASHSCOPE_API_KEY);
  return toConfig(result.data);
}
