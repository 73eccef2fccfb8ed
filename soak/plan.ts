/**
 * The plan of a soak run, drawn from one seeded PRNG before anything runs: every job's files and
 * their upload times, what the contract says each job must end as (decided here, at generation
 * time), re-deliveries of events, and the whole fault schedule. The same seed gives the same plan;
 * only the wall-clock timing of its execution varies.
 */
import { JOB_CHECKPOINTS, POLLER_CHECKPOINTS } from '../lib/core/deps.js';
import { Rng } from './rng.js';
import { EVENT_SHAPES, type EventShape } from '../lib/local/fc.js';
import { extensionFor, fitsModel, NOT_IMAGES, oversizedPng, pngClaiming, renderSketch, truncated, type ImageFormat, type ImageSpec, type NotImage } from './images.js';

// ------------------------------------------------------------------ types

export type Expectation =
  /** SUCCEEDED, or PARTIAL / FAILED only for a reason the records show was injected. */
  | { kind: 'valid'; prompt: string; n: number }
  /** FAILED with this pipeline error code, nothing sent to DashScope. */
  | { kind: 'invalid'; code: 'InvalidSidecar' | 'UnsupportedImage' | 'ImageTooLarge' | 'MissingPrompt' | 'ImageRejected' }
  /** Refused by name with a warning in the log ('.'/'..' key segments, SPEC §1): no job, no task, no outputs. */
  | { kind: 'refused' };

/** The pipeline's own step names (lib/core/deps.ts), so a new step is crashed at too. */
export type JobStep = (typeof JOB_CHECKPOINTS)[number];
export const JOB_STEPS: readonly JobStep[] = JOB_CHECKPOINTS;
export const POLLER_STEPS = POLLER_CHECKPOINTS;

/** throw: the invocation fails (FC retries it); die: it stops dead, no finally block runs. */
export type CrashMode = 'throw' | 'die';

export interface CrashSpec {
  step: JobStep;
  mode: CrashMode;
}

export interface JobPlan {
  index: number;
  jobKey: string;
  /** What kind of input this is, e.g. `valid/png-square` or `invalid/sidecar-unknown-field`. */
  label: string;
  valid: boolean;
  hostile: boolean;
  /** For the final version of the job (its last uploads). */
  expect: Expectation;
  crashes: CrashSpec[];
  /** Every task of this job is lost by DashScope while faults are on (TaskLost after MAX_ATTEMPTS). */
  cursed: boolean;
  edits: string[];
}

export interface Upload {
  type: 'upload';
  at: number;
  key: string;
  body: Buffer;
  meta?: Record<string, string>;
  /** Stored as an object of this logical size (only the first bytes exist: a 1 GB sidecar). */
  logicalSize?: number;
  job?: number;
  role: 'sketch' | 'sidecar' | 'defaults' | 'ignored';
}

export interface Redeliver {
  type: 'redeliver';
  at: number;
  job: number;
  key: string;
  /** 'latest': the event of the upload current at that moment; 'previous': the one before it (stale). */
  which: 'latest' | 'previous';
  copies: number;
  keyStyle: 'raw' | 'encoded';
  sync: boolean;
}

export interface ForeignEvent {
  type: 'foreign-event';
  at: number;
  what: 'other-bucket' | 'outside-prefix' | 'malformed' | 'output-name';
  key: string;
}

export type DashScopeFault =
  | { kind: 'failCreates'; count: number; code: string }
  | { kind: 'hang' | 'reset'; request: 'create' | 'query' | 'result' | 'cancel'; count: number; when: 'before' | 'after' }
  | { kind: 'slow'; request: 'create' | 'query' | 'result' | 'all'; ms: number; count: number }
  | { kind: 'failTask'; code: string; target: 'next' | 'live'; pick: number }
  | { kind: 'partial'; failed: number; code?: string }
  | { kind: 'loseTask'; target: 'next' | 'live'; pick: number }
  /** A gateway in front of DashScope answers without DashScope's body; `after`: the work was done. */
  | { kind: 'gateway'; request: 'create' | 'query' | 'list' | 'cancel'; status: 502 | 503 | 504; body: 'html' | 'empty'; when: 'before' | 'after' }
  /** Task queries answer a status outside the documented set (null: no `task_status` at all). */
  | { kind: 'queryStatus'; status: 'Succeeded' | 'QUEUED' | null; count: number }
  /** DashScope refuses the account for `ms` (a revoked key, an overdue bill), then it is fixed. */
  | { kind: 'account'; problem: 'InvalidApiKey' | 'Arrearage' | 'AccessDenied.Unpurchased' | 'Throttling.AllocationQuota'; ms: number };

export type FaultAction =
  | { type: 'dashscope'; at: number; fault: DashScopeFault }
  | { type: 'tablestore'; at: number; operation?: string; count: number; kind: 'busy' | 'reset' | 'conflict' }
  | { type: 'oss'; at: number; action: 'oss:PutObject' | 'oss:ListObjects' | 'oss:DeleteObject'; count: number; kind: 'error' | 'reset' }
  | { type: 'poller-crash'; at: number; step: (typeof POLLER_STEPS)[number]; mode: CrashMode }
  | { type: 'poller-overlap'; at: number; count: number }
  | { type: 'clock-jump'; at: number; ms: number }
  /** DashScope's completion events (simulator eventFault): `delayMs` simulated, for late and duplicate. */
  | { type: 'event'; at: number; fault: 'lose' | 'duplicate' | 'late' | 'reorder' | 'early'; count: number; delayMs?: number }
  /** A completion event for a task no one created (or another model's, which the trigger filters out). */
  | { type: 'stray-event'; at: number; taskId: string; status: string; model?: string };

export type Action = Upload | Redeliver | ForeignEvent | FaultAction;

export interface Plan {
  seed: number;
  sketches: number;
  mixMs: number;
  fit: 'pad' | 'crop' | 'reject';
  /** MAX_IMAGES_PER_DAY for the run (binding in some seeds, so invariant 6 is exercised). */
  budget: number;
  budgetBinding: boolean;
  jobs: JobPlan[];
  actions: Action[];
  /** Keys uploaded that must never become jobs (reserved names, non-sketches). */
  ignoredKeys: string[];
  /** What was excluded on request (e.g. dot-segments). */
  excluded: string[];
  /** How the EventBridge trigger hands completion events to the poller in this run. */
  eventShape: EventShape;
}

export interface PlanOptions {
  seed: number;
  sketches: number;
  /** Length of the mixed phase, real ms. */
  mixMs: number;
  /**
   * Classes to leave out: input classes ('dot-segments', 'late-defaults', any hostile kind),
   * 'tablestore-writes' (Tablestore faults on reads only), 'budget' (never a binding budget).
   */
  exclude?: string[];
  /** Scales how many faults are injected (1 = default). */
  intensity?: number;
}

const PREFIX = 'sketches/';

const HOSTILE_KINDS = ['dot-segments', '1000-byte-key', 'control-chars-key', 'emoji-key', 'plus-percent-key', 'bomb-png', 'huge-sidecar', 'sidecar-__proto__', 'sidecar-constructor'];
const INPUT_KINDS = ['invalid-sidecar', 'invalid-image', 'missing-prompt', 'bad-defaults', 'hostile', 'late-defaults', 'fixed-sidecar', 'broken-sidecar'];
/** What `--exclude` accepts. */
export const EXCLUDABLE = [...HOSTILE_KINDS, ...INPUT_KINDS, 'tablestore-writes', 'budget'];

// ------------------------------------------------------------------ prompts and sidecars

function promptText(rng: Rng, i: number): string {
  const w = () => rng.word();
  return rng.weighted<() => string>([
    [() => `a ${w()} next to a ${w()} #${i}`, 60],
    [() => `a very detailed ${w()} with a ${w()}, a ${w()} and a ${w()} in the background, soft morning light, #${i}`, 10], // > 75 chars
    [() => `a 🐱 riding a 🚲 past a ${w()} 🎨 #${i}`, 8],
    [() => `一座小房子 和 ${w()} #${i}`, 6],
    [() => `bell\u0007 and tab\t and rtl\u202e ${w()} #${i}`, 6],
    [() => `  padded ${w()} prompt #${i}  `, 5],
    [() => `"quoted" <tag> & ${w()} \\ #${i}`, 5],
  ])();
}

interface SidecarDraft {
  format: 'json' | 'txt';
  body: Buffer;
  /** The fields the request resolves from (JSON only), when valid. */
  fields?: { prompt?: string; n?: number };
  invalid?: string;
}

function validJson(rng: Rng, i: number, withPrompt = true): SidecarDraft {
  const o: Record<string, unknown> = {};
  if (withPrompt) o.prompt = promptText(rng, i);
  if (rng.chance(0.5)) o.style = rng.pick(['<auto>', '<watercolor>', 'Watercolor', 'anime', '<3d cartoon>', 'oil painting', 'SKETCH', '<chinese painting>', 'flat illustration']);
  if (rng.chance(0.7)) o.n = rng.weighted([[1, 60], [2, 25], [3, 10], [4, 5]] as const);
  if (rng.chance(0.2)) o.sketch_weight = rng.int(0, 10);
  if (rng.chance(0.1)) o.sketch_extraction = rng.chance(0.5);
  if (rng.chance(0.1)) o.sketch_color = [[0, 0, 0], [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)]];
  if (rng.chance(0.15)) o.size = '768*768';
  const text = rng.chance(0.1) ? JSON.stringify(o, null, 2) : JSON.stringify(o);
  return { format: 'json', body: Buffer.from(rng.chance(0.05) ? `\uFEFF${text}` : text), fields: { prompt: o.prompt as string | undefined, n: o.n as number | undefined } };
}

function validTxt(rng: Rng, i: number): SidecarDraft {
  const prompt = promptText(rng, i);
  return { format: 'txt', body: Buffer.from(rng.chance(0.3) ? `\n  ${prompt}\n\n` : prompt), fields: { prompt } };
}

const INVALID_SIDECARS: Record<string, (rng: Rng, i: number) => SidecarDraft> = {
  'unknown-field': (_rng, i) => json({ prompt: `p${i}`, styel: 'anime' }),
  'n-out-of-range': (rng, i) => json({ prompt: `p${i}`, n: rng.pick([0, 5, 7, 2.5, '2']) }),
  'style-unknown': (rng, i) => json({ prompt: `p${i}`, style: rng.pick(['pastel', '<cubism>', 42]) }),
  'weight-out-of-range': (rng, i) => json({ prompt: `p${i}`, sketch_weight: rng.pick([11, -1, 3.5]) }),
  'extraction-not-boolean': (_rng, i) => json({ prompt: `p${i}`, sketch_extraction: 'yes' }),
  'color-invalid': (rng, i) =>
    json({ prompt: `p${i}`, sketch_color: rng.pick([[[256, 0, 0]], Array.from({ length: 17 }, () => [0, 0, 0]), [[1, 2]], 'black']) }),
  'size-invalid': (_rng, i) => json({ prompt: `p${i}`, size: '1024*1024' }),
  'prompt-empty': () => json({ prompt: '   ' }),
  'prompt-too-long': () => json({ prompt: 'x'.repeat(801) }),
  'prompt-not-string': () => json({ prompt: 42 }),
  'many-problems': () => json({ prompt: '', n: 9, styel: 1 }),
  'not-json': (_rng, i) => raw('json', `{"prompt": "p${i}",`),
  'not-utf8': () => ({ format: 'json', body: Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), invalid: 'not-utf8' }),
  'json-array': (_rng, i) => raw('json', `[{"prompt": "p${i}"}]`),
  'over-64k': (_rng, i) => raw('json', JSON.stringify({ prompt: `p${i}`, pad: 'x'.repeat(70 * 1024) })),
  'txt-empty': () => raw('txt', '  \n\t\n'),
  'txt-too-long': () => raw('txt', 'y'.repeat(801)),
};

/** Hostile sidecars: must be refused as InvalidSidecar, nothing polluted. */
const HOSTILE_SIDECARS: Record<string, (rng: Rng, i: number) => SidecarDraft> = {
  'sidecar-__proto__': (_rng, i) => raw('json', `{"prompt":"p${i}","__proto__":{"n":4,"polluted":true}}`),
  'sidecar-constructor': (_rng, i) => raw('json', `{"prompt":"p${i}","constructor":{"prototype":{"polluted":true}}}`),
};

function json(value: unknown): SidecarDraft {
  return { format: 'json', body: Buffer.from(JSON.stringify(value)), invalid: 'json' };
}
function raw(format: 'json' | 'txt', text: string): SidecarDraft {
  return { format, body: Buffer.from(text), invalid: 'raw' };
}

// ------------------------------------------------------------------ images

type ImageClass = 'png-square' | 'jpeg-square' | 'webp-square' | 'tiff-square' | 'bmp' | 'non-square' | 'tiny' | 'large' | 'exif-rotated' | 'big-tiff';

function imageSpec(rng: Rng, cls: ImageClass, variant: number): ImageSpec {
  const sq = (format: ImageFormat, min: number, max: number): ImageSpec => {
    const s = rng.int(min, max);
    return { format, width: s, height: s, variant };
  };
  switch (cls) {
    case 'png-square':
      return sq('png', 256, 1024);
    case 'jpeg-square':
      return sq('jpeg', 256, 1024);
    case 'webp-square':
      return sq('webp', 256, 900);
    case 'tiff-square':
      return sq('tiff', 256, 700);
    case 'bmp':
      return { format: 'bmp', width: rng.int(120, 600), height: rng.int(120, 600), variant };
    case 'non-square': {
      const w = rng.int(300, 1200);
      return { format: rng.pick(['png', 'jpeg', 'webp'] as const), width: w, height: Math.max(64, w + rng.pick([-1, 1]) * rng.int(50, 400)), variant };
    }
    case 'tiny':
      return { format: rng.pick(['png', 'jpeg'] as const), width: rng.int(16, 200), height: rng.int(16, 200), variant };
    case 'large':
      return sq(rng.pick(['png', 'jpeg'] as const), 2049, 2600);
    case 'exif-rotated':
      return { format: 'jpeg', width: rng.int(600, 1400), height: rng.int(400, 900), orientation: rng.pick([3, 5, 6, 7, 8]), variant };
    case 'big-tiff':
      return { format: 'tiff', width: 2048, height: 2048, raw: true, variant };
  }
}

interface SketchDraft {
  ext: string;
  body: Buffer;
  /** Fits DashScope as it is (else normalized, or ImageRejected with FIT=reject). */
  fits: boolean;
  invalid?: 'UnsupportedImage' | 'ImageTooLarge';
  what: string;
}

async function validSketch(rng: Rng, cls: ImageClass, variant: number): Promise<SketchDraft> {
  const spec = imageSpec(rng, cls, variant);
  const body = await renderSketch(spec);
  return { ext: extensionFor(spec.format, rng), body, fits: fitsModel(spec, body.length), what: `${spec.format} ${spec.width}×${spec.height}${spec.orientation ? ` exif ${spec.orientation}` : ''}` };
}

const INVALID_IMAGES: Record<string, (rng: Rng, variant: number) => Promise<SketchDraft>> = {
  text: async (rng) => notImage(rng, 'text'),
  pdf: async (rng) => notImage(rng, 'pdf'),
  gif: async (rng) => notImage(rng, 'gif'),
  zip: async (rng) => notImage(rng, 'zip'),
  empty: async (rng) => notImage(rng, 'empty'),
  'corrupt-jpeg': async () => ({ ext: '.jpg', body: NOT_IMAGES.corruptJpeg(), fits: true, invalid: 'UnsupportedImage', what: 'corrupt jpeg' }),
  'truncated-png': async (_rng, v) => ({ ext: '.png', body: truncated(await renderSketch({ format: 'png', width: 400, height: 400, variant: v })), fits: true, invalid: 'UnsupportedImage', what: 'truncated png' }),
  'truncated-webp': async (_rng, v) => ({ ext: '.webp', body: truncated(await renderSketch({ format: 'webp', width: 400, height: 400, variant: v })), fits: true, invalid: 'UnsupportedImage', what: 'truncated webp' }),
  'truncated-bmp': async (_rng, v) => ({ ext: '.bmp', body: truncated(await renderSketch({ format: 'bmp', width: 200, height: 200, variant: v }), 0.5), fits: true, invalid: 'UnsupportedImage', what: 'truncated bmp' }),
};

function notImage(rng: Rng, kind: NotImage): SketchDraft {
  return { ext: rng.pick(['.png', '.jpg', '.webp']), body: NOT_IMAGES[kind](), fits: true, invalid: 'UnsupportedImage', what: kind };
}

// ------------------------------------------------------------------ folders

interface Folder {
  path: string;
  /** The prompt (and n) the nearest `_defaults.json` chain supplies, if any. */
  defaults?: { prompt?: string; n?: number };
  invalidDefaults?: boolean;
  late?: boolean;
}

// ------------------------------------------------------------------ the plan

export async function makePlan(options: PlanOptions): Promise<Plan> {
  const rng = new Rng(options.seed);
  const exclude = new Set(options.exclude ?? []);
  const intensity = options.intensity ?? 1;
  const M = options.sketches;
  const mixMs = options.mixMs;
  const actions: Action[] = [];
  const jobs: JobPlan[] = [];
  const ignoredKeys: string[] = [];

  const fit = rng.weighted([['pad', 70], ['crop', 20], ['reject', 10]] as const);

  // Folders: plain ones, folders with _defaults.json (nested, invalid, late).
  const plain: Folder[] = [
    { path: PREFIX },
    { path: `${PREFIX}a/` },
    { path: `${PREFIX}a/b/c/` },
    { path: `${PREFIX}space dir/` },
    { path: `${PREFIX}🎨 art/` },
  ];
  const withDefaults: Folder[] = [];
  const upload = (u: Omit<Upload, 'type'>) => actions.push({ type: 'upload', ...u });
  for (let k = 0; k < 2; k++) {
    const path = `${PREFIX}dflt-${k}/`;
    const d: Record<string, unknown> = { prompt: `folder ${k} ${rng.word()}`, style: rng.pick(['watercolor', '<anime>', 'Oil Painting']) };
    if (rng.chance(0.5)) d.n = rng.int(1, 2);
    upload({ at: 0, key: `${path}_defaults.json`, body: Buffer.from(JSON.stringify(d)), role: 'defaults' });
    withDefaults.push({ path, defaults: { prompt: d.prompt as string, n: d.n as number | undefined } });
  }
  {
    const outer = `${PREFIX}dflt-nest/`;
    const inner = `${outer}inner/`;
    const prompt = `outer ${rng.word()}`;
    upload({ at: 0, key: `${outer}_defaults.json`, body: Buffer.from(JSON.stringify({ prompt, style: 'oil painting', sketch_weight: 3, n: 2 })), role: 'defaults' });
    upload({ at: 0, key: `${inner}_defaults.json`, body: Buffer.from(JSON.stringify({ style: 'sketch', n: 1 })), role: 'defaults' });
    withDefaults.push({ path: inner, defaults: { prompt, n: 1 } });
  }
  const badDefaults: Folder = { path: `${PREFIX}dflt-bad/`, invalidDefaults: true };
  upload({ at: 0, key: `${badDefaults.path}_defaults.json`, body: Buffer.from(JSON.stringify({ prompt: 'x', colour: 'red' })), role: 'defaults' });
  // A folder whose _defaults.json arrives just after its sketches: it releases them (they wait for a prompt).
  const lateFolder: Folder = { path: `${PREFIX}dflt-late/`, defaults: { prompt: `late ${rng.word()}` }, late: true };
  let lateDefaultsAt = Infinity;

  const start = (i: number) => Math.floor((i / Math.max(1, M)) * mixMs * 0.8 + rng.float() * mixMs * 0.05);

  // How many of each input class (valid ≈ 62 %, invalid ≈ 28 %, hostile ≈ 10 %).
  type Kind = 'valid' | 'invalid-sidecar' | 'invalid-image' | 'missing-prompt' | 'bad-defaults' | 'hostile' | 'late-defaults' | 'fixed-sidecar' | 'broken-sidecar';
  const kinds: Kind[] = [];
  for (let i = 0; i < M; i++) {
    kinds.push(
      rng.weighted<Kind>([
        ['valid', 56],
        ['invalid-sidecar', 12],
        ['invalid-image', 8],
        ['missing-prompt', 4],
        ['bad-defaults', 2],
        ['hostile', 10],
        ['late-defaults', 2],
        ['fixed-sidecar', 3],
        ['broken-sidecar', 3],
      ]),
    );
  }
  // Whole classes can be left out (documented known bugs, e.g. --exclude dot-segments,late-defaults).
  for (let i = 0; i < kinds.length; i++) if (exclude.has(kinds[i]!)) kinds[i] = 'valid';
  const hostileKinds0 = HOSTILE_KINDS.filter((k) => !exclude.has(k));
  // Every class at least once in runs big enough to hold them (small runs stay random).
  if (M >= 30) {
    const need: Array<[Kind, number]> = [
      ['hostile', hostileKinds0.length],
      ['late-defaults', 1],
      ['fixed-sidecar', 1],
      ['broken-sidecar', 1],
      ['missing-prompt', 1],
      ['bad-defaults', 1],
      ['invalid-image', 2],
      ['invalid-sidecar', 2],
    ];
    for (const [k, n] of need) {
      if (exclude.has(k)) continue;
      for (let have = kinds.filter((x) => x === k).length; have < n; have++) {
        const free = kinds.map((x, i) => (x === 'valid' ? i : -1)).filter((i) => i >= 0);
        if (free.length === 0) break;
        kinds[rng.pick(free)] = k;
      }
    }
  }
  const hostileKinds = rng.shuffle([...hostileKinds0]);
  let hostileNext = 0;
  let hugeSidecarUsed = false;
  let oversizedUsed = 0;
  let bigTiffUsed = 0;

  const VALID_CLASSES: Array<readonly [ImageClass, number]> = [
    ['png-square', 22],
    ['jpeg-square', 9],
    ['webp-square', 6],
    ['tiff-square', 4],
    ['bmp', 5],
    ['non-square', 7],
    ['tiny', 4],
    ['large', 2],
    ['exif-rotated', 5],
    ['big-tiff', 0.4],
  ];
  const pickClass = (): ImageClass => {
    const c = rng.weighted(VALID_CLASSES);
    if (c === 'big-tiff' && bigTiffUsed++ >= 1) return 'png-square';
    return c;
  };
  const FITTING: ImageClass[] = ['png-square', 'jpeg-square', 'webp-square', 'tiff-square'];

  const lastEventOf: Array<{ key: string; at: number }> = [];
  for (let i = 0; i < M; i++) {
    const kind = kinds[i]!;
    const t0 = start(i);
    const stemBase = `j${String(i).padStart(4, '0')}-${rng.word()}`;
    let folder = rng.chance(0.75) ? rng.pick(plain) : rng.pick(withDefaults);
    let stem = stemBase;
    let label: string = kind;
    let hostile = false;
    let sketch: SketchDraft;
    let sidecar: SidecarDraft | undefined;
    let meta: Record<string, string> | undefined;
    let promptSource: 'json' | 'txt' | 'meta' | 'defaults' | 'none' = 'json';
    let sidecarLogicalSize: number | undefined;
    const edits: string[] = [];
    let finalSidecar: SidecarDraft | undefined;
    let laterSidecar: SidecarDraft | undefined;
    let laterSketch: SketchDraft | undefined;
    let laterSketchExt: string | undefined;

    const chooseSidecarSource = (allowDefaults: boolean) => {
      const src = rng.weighted<typeof promptSource>([
        ['json', 55],
        ['txt', 20],
        ['meta', 10],
        ['defaults', allowDefaults && folder.defaults ? 15 : 0],
      ]);
      promptSource = src;
      if (src === 'json') sidecar = validJson(rng, i, !(folder.defaults && rng.chance(0.3)));
      else if (src === 'txt') sidecar = validTxt(rng, i);
      else if (src === 'meta') {
        const p = promptText(rng, i);
        meta = { prompt: encodeURIComponent(p), ...(rng.chance(0.5) ? { style: rng.pick(['watercolor', 'Anime', '<sketch>']) } : {}) };
      }
    };

    switch (kind) {
      case 'valid': {
        const cls = pickClass();
        sketch = await validSketch(rng, cls, i);
        label = `valid/${cls}`;
        chooseSidecarSource(true);
        break;
      }
      case 'invalid-sidecar': {
        folder = rng.pick(plain);
        const name = rng.pick(Object.keys(INVALID_SIDECARS));
        sidecar = INVALID_SIDECARS[name]!(rng, i);
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        label = `invalid/sidecar-${name}`;
        if (rng.chance(0.15)) {
          // The same problem reported from the sketch's metadata instead.
          sidecar = undefined;
          meta = rng.chance(0.5) ? { prompt: encodeURIComponent('z'.repeat(801)) } : { prompt: encodeURIComponent(`p${i}`), style: 'pastel' };
          label = `invalid/metadata-${meta.style ? 'style' : 'prompt-too-long'}`;
        }
        break;
      }
      case 'invalid-image': {
        folder = rng.pick(plain);
        let name = rng.pick(Object.keys(INVALID_IMAGES));
        if (rng.chance(0.04) && oversizedUsed++ < 1) name = 'over-20mb';
        sketch = name === 'over-20mb' ? { ext: '.png', body: oversizedPng(21 * 1024 * 1024), fits: true, invalid: 'ImageTooLarge', what: 'over 20 MB' } : await INVALID_IMAGES[name]!(rng, i);
        sidecar = validJson(rng, i);
        label = `invalid/image-${name}`;
        break;
      }
      case 'missing-prompt': {
        folder = rng.pick(plain);
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        promptSource = 'none';
        label = 'invalid/missing-prompt';
        if (rng.chance(0.3)) sidecar = validJson(rng, i, false); // a sidecar without a prompt
        break;
      }
      case 'bad-defaults': {
        folder = badDefaults;
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        chooseSidecarSource(false);
        label = 'invalid/bad-folder-defaults';
        break;
      }
      case 'late-defaults': {
        folder = lateFolder;
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        promptSource = 'defaults';
        label = 'valid/released-by-late-defaults';
        lateDefaultsAt = Math.min(lateDefaultsAt, t0);
        break;
      }
      case 'fixed-sidecar':
      case 'broken-sidecar': {
        folder = rng.pick(plain);
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        const name = rng.pick(Object.keys(INVALID_SIDECARS).filter((n) => !n.startsWith('txt-')));
        const bad = INVALID_SIDECARS[name]!(rng, i);
        const good = validJson(rng, i);
        promptSource = 'json';
        if (kind === 'fixed-sidecar') {
          sidecar = bad;
          laterSidecar = good;
          label = `valid/sidecar-fixed-after-${name}`;
        } else {
          sidecar = good;
          laterSidecar = bad;
          label = `invalid/sidecar-broken-by-edit-${name}`;
        }
        edits.push(kind === 'fixed-sidecar' ? 'sidecar fixed' : 'sidecar broken');
        break;
      }
      case 'hostile': {
        hostile = true;
        const h = hostileKinds.length > 0 ? hostileKinds[hostileNext++ % hostileKinds.length]! : 'emoji-key';
        label = `hostile/${h}`;
        folder = { path: `${PREFIX}hostile/` };
        sketch = await validSketch(rng, rng.pick(FITTING), i);
        sidecar = validJson(rng, i);
        switch (h) {
          case 'dot-segments':
            folder = { path: `${PREFIX}hostile/x/${rng.pick(['../', './', '../../'])}` };
            break;
          case '1000-byte-key': {
            const head = `${PREFIX}long/${stemBase}-🐉-`;
            const room = 1000 - Buffer.byteLength(head, 'utf8') - Buffer.byteLength(sketch.ext, 'utf8');
            folder = { path: `${PREFIX}long/` };
            stem = `${stemBase}-🐉-${'k'.repeat(room)}`;
            break;
          }
          case 'control-chars-key':
            stem = `${stemBase}-ctl\u0001\u0007\t\n\u001b\u007f\u202e`;
            break;
          case 'emoji-key':
            folder = { path: `${PREFIX}🎨 art/😀/` };
            stem = `${stemBase}-🐱🚲`;
            break;
          case 'plus-percent-key':
            stem = `${stemBase} a+b c%20d%zz`;
            break;
          case 'bomb-png':
            sketch = { ext: '.png', body: pngClaiming(100_000, 100_000), fits: true, invalid: 'UnsupportedImage', what: 'PNG header claiming 100000×100000' };
            break;
          case 'huge-sidecar':
            if (!hugeSidecarUsed) {
              hugeSidecarUsed = true;
              sidecar = { format: 'json', body: Buffer.from(`{"prompt": "${'x'.repeat(70 * 1024)}`), invalid: 'huge' };
              sidecarLogicalSize = 1024 ** 3;
              label = 'hostile/1-GB-sidecar';
            } else {
              sidecar = HOSTILE_SIDECARS['sidecar-__proto__']!(rng, i);
              label = 'hostile/sidecar-__proto__';
            }
            break;
          default:
            sidecar = HOSTILE_SIDECARS[h]!(rng, i);
        }
        break;
      }
    }

    const jobKey = `${folder.path}${stem}`;
    const index = jobs.length;
    const sketchKey = (ext: string) => `${jobKey}${ext}`;
    const sidecarKey = (d: SidecarDraft) => `${jobKey}.${d.format}`;

    // Edits while the job may be in flight: new versions of the sketch or the sidecar.
    const editable = !hostile && kind !== 'late-defaults' && !laterSidecar;
    if (editable && rng.chance(0.18)) {
      const e = rng.weighted<'prompt' | 'reupload' | 'other-ext' | 'rapid'>([
        ['prompt', sidecar && !sidecar.invalid ? 4 : 0],
        ['reupload', 4],
        ['other-ext', sketch!.invalid ? 0 : 2],
        ['rapid', sidecar && !sidecar.invalid ? 1 : 0],
      ]);
      if (e === 'prompt' || e === 'rapid') {
        laterSidecar = sidecar!.format === 'json' ? validJson(rng, i) : validTxt(rng, i);
        edits.push(e === 'rapid' ? 'rapid sidecar edits' : 'sidecar edited');
      } else if (e === 'reupload') {
        laterSketch = sketch!.invalid ? sketch : await validSketch(rng, sketch!.fits ? rng.pick(FITTING) : pickClass(), i + 100_000);
        laterSketchExt = sketch!.ext;
        edits.push('sketch re-uploaded');
      } else {
        // cat.png then cat.jpg: one job, the newest upload wins.
        laterSketch = await validSketch(rng, /^\.png$/i.test(sketch!.ext) ? 'jpeg-square' : 'png-square', i + 200_000);
        laterSketchExt = laterSketch.ext;
        edits.push('same stem, other extension');
      }
    }

    // Uploads: arrival order of sketch and sidecar.
    const order = rng.weighted<'sidecar-first' | 'sketch-first' | 'together' | 'sketch-first-late'>([
      ['sidecar-first', 45],
      ['sketch-first', 25],
      ['together', 25],
      ['sketch-first-late', 5],
    ]);
    const sketchAt = order === 'sidecar-first' ? t0 + rng.int(1, 40) : t0;
    const sidecarAt = order === 'sidecar-first' ? t0 : order === 'together' ? t0 : order === 'sketch-first' ? t0 + rng.int(5, 300) : t0 + rng.int(3500, 6000);
    upload({ at: sketchAt, key: sketchKey(sketch!.ext), body: sketch!.body, ...(meta ? { meta } : {}), job: index, role: 'sketch' });
    if (sidecar) upload({ at: sidecarAt, key: sidecarKey(sidecar), body: sidecar.body, job: index, role: 'sidecar', ...(sidecarLogicalSize ? { logicalSize: sidecarLogicalSize } : {}) });
    finalSidecar = sidecar;
    let finalSketch = sketch!;
    let lastAt = Math.max(sketchAt, sidecar ? sidecarAt : 0);
    if (laterSidecar) {
      const n = edits.includes('rapid sidecar edits') ? rng.int(2, 3) : 1;
      let at = lastAt + rng.int(10, 1500);
      for (let k = 0; k < n; k++) {
        const d = k === n - 1 ? laterSidecar : laterSidecar.format === 'json' ? validJson(rng, i) : validTxt(rng, i);
        upload({ at, key: sidecarKey(d), body: d.body, job: index, role: 'sidecar' });
        finalSidecar = d;
        lastAt = at;
        at += rng.int(2, 30);
      }
    }
    if (laterSketch) {
      const at = lastAt + rng.int(10, 1500);
      upload({ at, key: sketchKey(laterSketchExt!), body: laterSketch.body, ...(meta ? { meta } : {}), job: index, role: 'sketch' });
      finalSketch = laterSketch;
      lastAt = at;
    }

    // Expectation for the final version (SPEC §2–§3), decided here.
    // Only from the final files: an edit may fix or break a job.
    let expect: Expectation;
    const rejected = fit === 'reject' && !finalSketch.fits && !finalSketch.invalid;
    const metaInvalid = meta !== undefined && (meta.style === 'pastel' || [...decodeURIComponent(meta.prompt ?? '')].length > 800);
    if (folder.path.split('/').some((segment) => segment === '.' || segment === '..')) expect = { kind: 'refused' };
    else if (finalSketch.invalid) expect = { kind: 'invalid', code: finalSketch.invalid };
    else if (metaInvalid) expect = { kind: 'invalid', code: 'InvalidSidecar' };
    else if (finalSidecar?.invalid) expect = { kind: 'invalid', code: 'InvalidSidecar' };
    else if (folder.invalidDefaults) expect = { kind: 'invalid', code: 'InvalidSidecar' };
    else if (rejected) expect = { kind: 'invalid', code: 'ImageRejected' };
    else {
      const prompt = finalSidecar?.fields?.prompt ?? (meta?.prompt !== undefined ? decodeURIComponent(meta.prompt) : undefined) ?? folder.defaults?.prompt;
      if (prompt === undefined || prompt.trim() === '') expect = { kind: 'invalid', code: 'MissingPrompt' };
      else expect = { kind: 'valid', prompt: prompt.trim(), n: finalSidecar?.fields?.n ?? folder.defaults?.n ?? 1 };
    }
    if (expect.kind === 'invalid' && expect.code === 'ImageRejected') label += ' (FIT=reject)';

    // Crashes between steps, for this job's own invocations.
    const crashes: CrashSpec[] = [];
    const crashCount = rng.weighted([[0, 84], [1, 13], [2, 3]] as const);
    const steps = rng.shuffle([...JOB_STEPS]);
    for (let k = 0; k < Math.round(crashCount * Math.min(1, intensity)); k++) crashes.push({ step: steps[k]!, mode: rng.chance(0.1) ? 'die' : 'throw' });

    // Duplicate and out-of-order deliveries of this job's events.
    const sketchFinalKey = laterSketch ? sketchKey(laterSketchExt!) : sketchKey(sketch!.ext);
    if (rng.chance(0.25 * Math.min(2, intensity)) || i < 3) {
      const style = rng.chance(0.25) ? 'encoded' : 'raw';
      const mode = i < 3 ? 'burst' : rng.weighted<'burst' | 'later' | 'sync' | 'sidecar'>([['burst', 3], ['later', 3], ['sync', 1], ['sidecar', sidecar ? 2 : 0]]);
      const key = mode === 'sidecar' ? sidecarKey(finalSidecar!) : sketchFinalKey;
      const at = mode === 'burst' ? lastAt + 1 : lastAt + rng.int(50, 3000);
      actions.push({ type: 'redeliver', at, job: index, key, which: 'latest', copies: mode === 'burst' ? rng.int(2, 3) : 1, keyStyle: style, sync: mode === 'sync' });
    }
    if (edits.length > 0 && rng.chance(0.5)) {
      // The event of the version before the edit, delivered after it: stale, out of order.
      const edited = laterSidecar ? sidecarKey(finalSidecar!) : sketchKey(sketch!.ext);
      actions.push({ type: 'redeliver', at: lastAt + rng.int(5, 800), job: index, key: edited, which: 'previous', copies: 1, keyStyle: 'raw', sync: false });
    }

    jobs.push({ index, jobKey, label, valid: expect.kind === 'valid', hostile, expect, crashes, cursed: false, edits });
    lastEventOf.push({ key: sketchFinalKey, at: lastAt });
  }

  // At-least-once delivery: some events come again long after their job finished.
  const early = lastEventOf.map((e, i) => ({ ...e, i })).filter((e) => e.at < mixMs * 0.6);
  const replays = Math.min(early.length, Math.max(3, Math.round(M * 0.08)));
  for (let k = 0; k < replays; k++) {
    const e = early.splice(rng.int(0, early.length - 1), 1)[0]!;
    actions.push({ type: 'redeliver', at: mixMs - rng.int(0, 1500), job: e.i, key: e.key, which: 'latest', copies: 1, keyStyle: rng.chance(0.2) ? 'encoded' : 'raw', sync: false });
  }

  if (lateDefaultsAt !== Infinity) {
    upload({ at: lateDefaultsAt + 150, key: `${lateFolder.path}_defaults.json`, body: Buffer.from(JSON.stringify({ prompt: lateFolder.defaults!.prompt })), role: 'defaults' });
  }

  // One job per ~150 whose every task DashScope loses while faults are on.
  const cursedCount = M >= 20 ? Math.max(1, Math.round(M / 150)) : 0;
  const simple = jobs.filter((j) => j.valid && !j.hostile && j.edits.length === 0 && j.crashes.length === 0 && !j.label.includes('late'));
  for (let k = 0; k < cursedCount && simple.length > 0; k++) {
    const j = simple.splice(rng.int(0, simple.length - 1), 1)[0]!;
    j.cursed = true;
  }

  // Uploads that must never become jobs: reserved names and non-sketches, plus foreign events.
  const ignoredCount = Math.max(3, Math.round(M * 0.05));
  const png = await renderSketch({ format: 'png', width: 300, height: 300, variant: 7 });
  for (let k = 0; k < ignoredCount; k++) {
    const base = `${PREFIX}ign/u${k}-${rng.word()}`;
    const [key, body] = rng.pick<[string, Buffer]>([
      [`${base}.result.png`, png],
      [`${base}.result-${rng.int(1, 12)}.png`, png],
      [`${base}.result.json`, Buffer.from('{"status":"SUCCEEDED"}')],
      [`${base}.gif`, NOT_IMAGES.gif()],
      [`${base}.pdf`, NOT_IMAGES.pdf()],
      [`${base}`, Buffer.from('no extension')],
      [`${PREFIX}ign/u${k}/`, Buffer.alloc(0)],
      [`${PREFIX}ign/.png`, png],
      [`${base}.png.bak`, png],
    ]);
    if (ignoredKeys.includes(key)) continue;
    ignoredKeys.push(key);
    upload({ at: rng.int(0, mixMs), key, body, role: 'ignored' });
  }
  for (const what of ['other-bucket', 'outside-prefix', 'malformed', 'output-name'] as const) {
    actions.push({ type: 'foreign-event', at: rng.int(0, mixMs), what, key: what === 'outside-prefix' ? `elsewhere/${rng.word()}.png` : what === 'output-name' ? `${PREFIX}a/x.result-2.png` : `${PREFIX}${rng.word()}.png` });
  }

  // The fault schedule.
  const per100 = (n: number) => Math.round((n * M * intensity) / 100);
  const at = () => rng.int(0, mixMs);
  const ds = (fault: DashScopeFault) => actions.push({ type: 'dashscope', at: at(), fault });
  for (let k = 0; k < per100(10); k++) ds({ kind: 'failCreates', count: rng.int(1, 3), code: rng.pick(['Throttling.RateQuota', 'Throttling.BurstRate', 'Throttling', 'InternalError', 'ModelUnavailable', 'ModelServingError', 'SystemError']) });
  for (let k = 0; k < per100(6); k++) ds({ kind: rng.pick(['hang', 'reset'] as const), request: 'create', count: 1, when: rng.pick(['before', 'after'] as const) });
  for (let k = 0; k < per100(6); k++) ds({ kind: rng.pick(['hang', 'reset'] as const), request: 'query', count: rng.int(1, 2), when: rng.pick(['before', 'after'] as const) });
  for (let k = 0; k < per100(4); k++) ds({ kind: rng.pick(['hang', 'reset'] as const), request: 'result', count: 1, when: 'before' });
  for (let k = 0; k < per100(1); k++) ds({ kind: 'reset', request: 'cancel', count: 1, when: 'before' });
  for (let k = 0; k < per100(3); k++) ds({ kind: 'slow', request: rng.pick(['create', 'query', 'result', 'all'] as const), ms: rng.int(20, 200), count: rng.int(1, 4) });
  for (let k = 0; k < per100(4); k++) ds({ kind: 'failTask', code: rng.weighted([['DataInspectionFailed', 3], ['InternalError', 1], ['InternalError.Timeout', 2]] as const), target: rng.pick(['next', 'live'] as const), pick: rng.float() });
  for (let k = 0; k < per100(4); k++) ds({ kind: 'partial', failed: rng.int(1, 2), ...(rng.chance(0.3) ? { code: 'DataInspectionFailed' } : {}) });
  for (let k = 0; k < per100(5); k++) ds({ kind: 'loseTask', target: rng.pick(['next', 'live'] as const), pick: rng.float() });
  // Replies no public source confirms (issue 13): a gateway's 5xx after the create made its task,
  // the same without it, on other calls; statuses outside the documented set; the account refused.
  for (let k = 0; k < per100(5); k++) ds({ kind: 'gateway', request: 'create', status: rng.pick([502, 503, 504] as const), body: rng.pick(['html', 'empty'] as const), when: rng.pick(['before', 'after'] as const) });
  for (let k = 0; k < per100(3); k++) ds({ kind: 'gateway', request: rng.pick(['query', 'list', 'cancel'] as const), status: rng.pick([502, 504] as const), body: rng.pick(['html', 'empty'] as const), when: rng.pick(['before', 'after'] as const) });
  for (let k = 0; k < per100(3); k++) ds({ kind: 'queryStatus', status: rng.pick(['Succeeded', 'QUEUED', null] as const), count: rng.int(1, 3) });
  if (M >= 10 && rng.chance(0.5)) ds({ kind: 'account', problem: rng.pick(['InvalidApiKey', 'Arrearage', 'AccessDenied.Unpurchased', 'Throttling.AllocationQuota'] as const), ms: rng.int(300, 1500) });
  const TS_OPS = exclude.has('tablestore-writes') ? ['GetRow', 'GetRange', 'BatchGetRow'] : ['PutRow', 'GetRow', 'GetRange', 'BatchGetRow', 'DeleteRow', undefined];
  for (let k = 0; k < per100(14); k++) {
    const op = rng.pick(TS_OPS);
    actions.push({ type: 'tablestore', at: at(), ...(op ? { operation: op } : {}), count: rng.int(1, 3), kind: rng.weighted([['busy', 5], ['reset', 4], ['conflict', 1]] as const) });
  }
  for (let k = 0; k < per100(5); k++) actions.push({ type: 'oss', at: at(), action: rng.pick(['oss:PutObject', 'oss:ListObjects', 'oss:DeleteObject'] as const), count: rng.int(1, 2), kind: rng.pick(['error', 'reset'] as const) });
  for (let k = 0; k < Math.max(1, per100(3)); k++) actions.push({ type: 'poller-crash', at: at(), step: rng.pick(POLLER_STEPS), mode: rng.chance(0.2) ? 'die' : 'throw' });
  for (let k = 0; k < Math.max(1, per100(4)); k++) actions.push({ type: 'poller-overlap', at: at(), count: rng.int(2, 3) });
  // Past DashScope's 24 h retention: results expire, tasks are forgotten (harness.ts clocksFor).
  if (M >= 10) actions.push({ type: 'clock-jump', at: Math.floor(mixMs * (0.35 + 0.35 * rng.float())), ms: 25 * 3600_000 });

  // Invariant 6: in about a third of the runs the daily image budget binds near the end.
  const demand = jobs.reduce((s, j) => s + (j.expect.kind === 'valid' ? j.expect.n : 0), 0);
  const budgetBinding = rng.chance(0.35) && demand >= 10 && !exclude.has('budget');
  const budget = budgetBinding ? Math.max(4, Math.round(demand * (0.75 + 0.15 * rng.float()))) : Math.max(1000, demand * 4);

  // Completion events (issue 17), drawn last so that the rest of a seed's plan stays as it was:
  // lost, duplicated (at once or later), late, out of order, before the create's reply, stray.
  const simSeconds = (lo: number, hi: number) => rng.int(lo, hi) * 1000;
  for (let k = 0; k < per100(4); k++) actions.push({ type: 'event', at: at(), fault: 'lose', count: rng.int(1, 2) });
  for (let k = 0; k < per100(4); k++) actions.push({ type: 'event', at: at(), fault: 'duplicate', count: 1, delayMs: rng.chance(0.5) ? 0 : simSeconds(1, 60) });
  for (let k = 0; k < per100(3); k++) actions.push({ type: 'event', at: at(), fault: 'late', count: 1, delayMs: simSeconds(20, 300) });
  for (let k = 0; k < per100(3); k++) actions.push({ type: 'event', at: at(), fault: 'reorder', count: 1 });
  for (let k = 0; k < per100(2); k++) actions.push({ type: 'event', at: at(), fault: 'early', count: 1 });
  for (let k = 0; k < Math.max(1, per100(2)); k++) {
    actions.push({ type: 'stray-event', at: at(), taskId: `stray-${rng.int(0, 1e9).toString(36)}`, status: rng.pick(['SUCCEEDED', 'FAILED', 'CANCELED']), ...(rng.chance(0.3) ? { model: 'wan2.5-i2i-preview' } : {}) });
  }
  const eventShape = rng.pick(EVENT_SHAPES);

  actions.sort((a, b) => a.at - b.at);
  return {
    eventShape,
    seed: options.seed,
    sketches: M,
    mixMs,
    fit,
    budget,
    budgetBinding,
    jobs,
    actions,
    ignoredKeys,
    excluded: [...exclude],
  };
}
