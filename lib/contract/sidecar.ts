/**
 * Sidecar and `_defaults.json` parsing (SPEC §2): bytes → the fields they set, with the problems
 * of their names; values are checked against the chosen model in request.ts, which reports every
 * problem of every source in one InputError with its field path.
 */
import { InputError } from '../errors.js';
import { ALL_FIELDS, isKnownModel, MODEL_NAMES } from '../models/index.js';

export const SIDECAR_MAX_BYTES = 64 * 1024;

/**
 * A source of request fields, as parsed: field names are checked here (every name some model
 * takes, plus `prompt` and `model`), values are checked against the chosen model when the request
 * is resolved (request.ts), since the model may come from another source. `problems` are reported
 * together with those, so a user fixes everything in one go.
 */
export interface SidecarLayer {
  /** The file's key, or `x-oss-meta` for the sketch's own metadata. */
  source: string;
  kind: 'file' | 'metadata';
  /** Known field names only, raw values (`prompt` trimmed; `model` a known name). */
  fields: SidecarFields;
  problems: string[];
  /** It names a model that does not exist (then the per-model checks are skipped). */
  badModel?: boolean;
}

export type SidecarFields = Record<string, unknown>;

/** Every field name a sidecar may use. */
export const FIELD_NAMES: readonly string[] = ['model', 'prompt', ...ALL_FIELDS];

const got = (v: unknown) => JSON.stringify(v) ?? String(v);

function suggest(field: string): string {
  const close = FIELD_NAMES.find((name) => editDistance(name, field.toLowerCase()) <= 2);
  return close ? ` (did you mean '${close}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + cost);
      // transposition: 'styel' is one typo away from 'style'
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) dp[i]![j] = Math.min(dp[i]![j]!, dp[i - 2]![j - 2]! + 1);
    }
  }
  return dp[a.length]![b.length]!;
}

/** `model`: one of the models sketchflow knows (an unknown one names them all). */
export function modelProblem(v: unknown): string | undefined {
  return typeof v === 'string' && isKnownModel(v.trim()) ? undefined : `must be one of ${MODEL_NAMES.join(', ')} (got ${got(v)})`;
}

/** `prompt`: a non-empty string; its length is the model's business (request.ts). */
export function promptProblem(v: unknown): string | undefined {
  if (typeof v !== 'string') return `must be a string (got ${got(v)})`;
  return v.trim().length === 0 ? 'must not be empty' : undefined;
}

/** A parsed JSON value → its known fields and the problems of its names, `prompt` and `model`. */
export function validateSidecarValue(value: unknown): { fields: SidecarFields; problems: string[]; badModel?: boolean } {
  const fields: SidecarFields = Object.create(null) as SidecarFields;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { fields, problems: [`must be a JSON object like {"prompt": "…"} (got ${Array.isArray(value) ? 'an array' : got(value)})`] };
  }
  const problems: string[] = [];
  let badModel = false;
  for (const [key, v] of Object.entries(value)) {
    if (!FIELD_NAMES.includes(key)) {
      problems.push(`unknown field '${key}'${suggest(key)}; allowed: ${FIELD_NAMES.join(', ')}`);
      continue;
    }
    if (key === 'model') {
      const problem = modelProblem(v);
      if (problem) {
        problems.push(`model ${problem}`);
        badModel = true;
      } else fields.model = (v as string).trim();
    } else if (key === 'prompt') {
      const problem = promptProblem(v);
      if (problem) problems.push(`prompt ${problem}`);
      else fields.prompt = (v as string).trim();
    } else {
      fields[key] = v;
    }
  }
  return { fields, problems, ...(badModel ? { badModel } : {}) };
}

/** Bytes as read from OSS (at most SIDECAR_MAX_BYTES + 1 of them) → text, or an InputError. */
export function decodeSidecarText(key: string, bytes: Buffer, totalSize: number): string {
  if (totalSize > SIDECAR_MAX_BYTES) {
    throw new InputError('InvalidSidecar', `${key}: is ${formatBytes(totalSize)}; a sidecar may be at most 64 KiB`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InputError('InvalidSidecar', `${key}: is not UTF-8 text; save it as UTF-8`, { cause });
  }
  return text.replace(/^\uFEFF/, '');
}

/** A `.json` sidecar or `_defaults.json`: bytes → a layer (an InputError if it is not a JSON object at all). */
export function parseSidecarJson(key: string, bytes: Buffer, totalSize: number): SidecarLayer {
  const text = decodeSidecarText(key, bytes, totalSize);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InputError('InvalidSidecar', `${key}: is not valid JSON (${detail})`, { cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError('InvalidSidecar', `${key}: ${validateSidecarValue(value).problems.join('; ')}`);
  }
  return { source: key, kind: 'file', ...validateSidecarValue(value) };
}

/** A `.txt` sidecar: the whole file, trimmed, is the prompt. */
export function parseSidecarTxt(key: string, bytes: Buffer, totalSize: number): SidecarLayer {
  const prompt = decodeSidecarText(key, bytes, totalSize).trim();
  if (prompt.length === 0) throw new InputError('InvalidSidecar', `${key}: is empty; write the prompt in it`);
  return { source: key, kind: 'file', fields: { prompt }, problems: [] };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
