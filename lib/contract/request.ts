/**
 * The DashScope request a job sends (SPEC §2): resolved field by field from
 * sidecar > object metadata > nearest `_defaults.json` > configuration.
 */
import { InputError } from '../errors.js';
import { normalizeStyle, STYLES, type Style } from './styles.js';
import { PROMPT_MAX_CHARS, PROMPT_MODEL_CHARS, type SidecarFields } from './sidecar.js';

export const MODEL = 'wanx-sketch-to-image-lite';

export interface RequestParameters {
  style: Style;
  size: '768*768';
  /** Always sent: DashScope's own default is 4, which bills 4 images. */
  n: number;
  sketch_weight?: number;
  sketch_extraction?: boolean;
  sketch_color?: Array<[number, number, number]>;
}

export interface ResolvedRequest {
  prompt: string;
  parameters: RequestParameters;
  warnings: string[];
}

export interface RequestSources {
  sidecar?: SidecarFields;
  /** User metadata of the sketch, keys without `x-oss-meta-`. */
  metadata?: Record<string, string>;
  /** `_defaults.json` contents, nearest folder first. */
  defaults: SidecarFields[];
  config: { style: string; n: number };
}

/** `x-oss-meta-prompt` is percent-encoded UTF-8 (HTTP headers are ASCII); `x-oss-meta-style` optional. */
export function fieldsFromMetadata(metadata: Record<string, string> | undefined): SidecarFields {
  if (!metadata) return {};
  const fields: SidecarFields = {};
  const rawPrompt = metadata.prompt;
  if (rawPrompt !== undefined) {
    let prompt = rawPrompt;
    try {
      prompt = decodeURIComponent(rawPrompt);
    } catch {
      // not percent-encoded after all: use it as written
    }
    prompt = prompt.trim();
    if ([...prompt].length > PROMPT_MAX_CHARS) {
      throw new InputError('InvalidSidecar', `x-oss-meta-prompt: must be at most ${PROMPT_MAX_CHARS} characters (got ${[...prompt].length})`);
    }
    if (prompt) fields.prompt = prompt;
  }
  if (metadata.style !== undefined) {
    const style = normalizeStyle(metadata.style);
    if (!style) throw new InputError('InvalidSidecar', `x-oss-meta-style: must be one of ${STYLES.join(', ')} (got ${JSON.stringify(metadata.style)})`);
    fields.style = style;
  }
  return fields;
}

/** Returns the request, or `undefined` when no source gives a prompt yet (AWAITING_PROMPT). */
export function resolveRequest(sources: RequestSources): ResolvedRequest | undefined {
  const layers: SidecarFields[] = [sources.sidecar ?? {}, fieldsFromMetadata(sources.metadata), ...sources.defaults];
  const pick = <K extends keyof SidecarFields>(field: K): SidecarFields[K] | undefined => {
    for (const layer of layers) if (layer[field] !== undefined) return layer[field];
    return undefined;
  };
  const prompt = pick('prompt');
  if (prompt === undefined) return undefined;
  const parameters: RequestParameters = {
    style: pick('style') ?? normalizeStyle(sources.config.style) ?? '<auto>',
    size: '768*768',
    n: pick('n') ?? sources.config.n,
  };
  const weight = pick('sketch_weight');
  if (weight !== undefined) parameters.sketch_weight = weight;
  const extraction = pick('sketch_extraction');
  if (extraction !== undefined) parameters.sketch_extraction = extraction;
  const colours = pick('sketch_color');
  if (colours !== undefined) parameters.sketch_color = colours;
  const warnings: string[] = [];
  const length = [...prompt].length;
  if (length > PROMPT_MODEL_CHARS) {
    warnings.push(`the prompt has ${length} characters; the model reads only the first ${PROMPT_MODEL_CHARS}`);
  }
  if (parameters.sketch_extraction && parameters.sketch_color) {
    warnings.push('sketch_color is ignored when sketch_extraction is true');
  }
  return { prompt, parameters, warnings };
}
