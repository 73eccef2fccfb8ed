/**
 * The DashScope request a job sends (SPEC §2): the model first (sidecar > object metadata >
 * nearest `_defaults.json` > DEFAULT_MODEL), then every other field from the same order, each
 * checked against that model's rules (lib/models). A field the model does not take is an error
 * when the sketch's own sidecar or metadata sets it, and is skipped with a warning when it comes
 * from a `_defaults.json` (a folder's defaults serve sketches of every model). Every problem of
 * every source is reported in one InputError.
 */
import { InputError } from '../errors.js';
import { modelSpec, modelsTaking, type ModelParameters, type ModelSpec } from '../models/index.js';
import { modelProblem, type SidecarFields, type SidecarLayer } from './sidecar.js';

export interface ResolvedRequest {
  model: string;
  prompt: string;
  parameters: ModelParameters;
  warnings: string[];
}

export interface RequestConfig {
  style: string;
  n: number;
  /** DEFAULT_MODEL. */
  model: string;
  /** MODELS: the models this deployment sends to. */
  models: readonly string[];
}

export interface RequestSources {
  sidecar?: SidecarLayer;
  /** User metadata of the sketch, keys without `x-oss-meta-`. */
  metadata?: Record<string, string>;
  /** `_defaults.json` files, nearest folder first. */
  defaults: SidecarLayer[];
  config: RequestConfig;
}

/** `x-oss-meta-prompt` is percent-encoded UTF-8 (HTTP headers are ASCII); `x-oss-meta-style` and `x-oss-meta-model` optional. */
export function fieldsFromMetadata(metadata: Record<string, string> | undefined): SidecarLayer {
  const fields: SidecarFields = Object.create(null) as SidecarFields;
  const problems: string[] = [];
  let badModel = false;
  if (metadata?.prompt !== undefined) {
    let prompt = metadata.prompt;
    try {
      prompt = decodeURIComponent(prompt);
    } catch {
      // not percent-encoded after all: use it as written
    }
    prompt = prompt.trim();
    if (prompt) fields.prompt = prompt;
  }
  if (metadata?.style !== undefined) fields.style = metadata.style;
  if (metadata?.model !== undefined) {
    const problem = modelProblem(metadata.model);
    if (problem) {
      problems.push(`x-oss-meta-model: ${problem}`);
      badModel = true;
    } else fields.model = metadata.model.trim();
  }
  return { source: 'x-oss-meta', kind: 'metadata', fields, problems, ...(badModel ? { badModel } : {}) };
}

/** A field's problem as reported: `field …` within its file's line, `x-oss-meta-field: …` for metadata. */
const at = (layer: SidecarLayer, field: string, text: string) => (layer.kind === 'metadata' ? `x-oss-meta-${field}: ${text}` : `${field} ${text}`);

function layersOf(sources: RequestSources): SidecarLayer[] {
  return [...(sources.sidecar ? [sources.sidecar] : []), fieldsFromMetadata(sources.metadata), ...sources.defaults];
}

/** One line per file (`key: a; b`), metadata problems one by one, in precedence order. */
function formatProblems(layers: SidecarLayer[], extra: Map<SidecarLayer, string[]> = new Map()): string[] {
  return layers.flatMap((l) => {
    const list = [...l.problems, ...(extra.get(l) ?? [])];
    if (list.length === 0) return [];
    return l.kind === 'metadata' ? list : [`${l.source}: ${list.join('; ')}`];
  });
}

/** The model the sources choose, and the source that chose it; throws for an unknown or disabled one. */
export function resolveModel(sources: RequestSources): { spec: ModelSpec; from?: SidecarLayer } {
  const layers = layersOf(sources);
  const first = layers.find((l) => l.fields.model !== undefined || l.badModel);
  if (first?.badModel) throw new InputError('InvalidSidecar', formatProblems(layers).join('; '));
  const name = (first?.fields.model as string | undefined) ?? sources.config.model;
  if (!sources.config.models.includes(name)) {
    const where = first ? (first.kind === 'metadata' ? `x-oss-meta-model: ${name} is not enabled here` : `${first.source}: model ${name} is not enabled here`) : `DEFAULT_MODEL ${name} is not enabled`;
    throw new InputError('InvalidSidecar', `${where}; this deployment sends to ${sources.config.models.join(', ')} (MODELS)`);
  }
  return { spec: modelSpec(name), ...(first ? { from: first } : {}) };
}

/**
 * Returns the request, or `undefined` when no source gives a prompt yet (AWAITING_PROMPT). Throws
 * one InputError naming every problem of every source.
 */
export function resolveRequest(sources: RequestSources): ResolvedRequest | undefined {
  const { spec, from } = resolveModel(sources);
  const layers = layersOf(sources);
  const shared = new Set(sources.defaults.filter((l) => l !== from));
  const problems = new Map<SidecarLayer, string[]>();
  const problem = (layer: SidecarLayer, text: string) => problems.set(layer, [...(problems.get(layer) ?? []), text]);
  const warnings: string[] = [];
  const values: Record<string, unknown> = {};
  const modelFrom = !from ? ' (DEFAULT_MODEL)' : from.kind === 'metadata' ? ' (from x-oss-meta-model)' : from === sources.sidecar ? '' : ` (the model of ${from.source})`;
  const taken = ['prompt', 'model', ...Object.keys(spec.fields)];
  for (const layer of layers) {
    for (const [field, raw] of Object.entries(layer.fields)) {
      if (field === 'model') continue;
      if (field === 'prompt') {
        const length = [...(raw as string)].length;
        if (length > spec.prompt.maxChars) problem(layer, at(layer, 'prompt', `must be at most ${spec.prompt.maxChars} characters for ${spec.name} (got ${length})`));
        continue;
      }
      const rule = spec.fields[field];
      if (!rule) {
        const others = modelsTaking(field);
        const text = `is not a field of ${spec.name}${modelFrom}; it takes ${taken.join(', ')}${others.length ? ` (${field} is for ${others.join(', ')})` : ''}`;
        // A folder's defaults serve sketches of every model: what this one does not take is left out.
        if (shared.has(layer)) warnings.push(`${layer.source}: ${field} ${text}; not used`);
        else problem(layer, at(layer, field, text));
        continue;
      }
      const parsed = rule.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
          problem(layer, at(layer, `${field}${path}`, issue.message));
        }
      } else if (!(field in values)) {
        values[field] = parsed.data;
      }
    }
  }
  const all = formatProblems(layers, problems);
  if (all.length > 0) throw new InputError('InvalidSidecar', all.join('; '));

  const prompt = layers.map((l) => l.fields.prompt).find((p): p is string => typeof p === 'string');
  if (prompt === undefined) return undefined;
  const built = spec.parameters(values, { n: sources.config.n, style: sources.config.style });
  const length = [...prompt].length;
  if (spec.prompt.readChars !== undefined && length > spec.prompt.readChars) {
    warnings.push(`the prompt has ${length} characters; the model reads only the first ${spec.prompt.readChars}`);
  }
  return { model: spec.name, prompt, parameters: built.parameters, warnings: [...warnings, ...built.warnings] };
}
