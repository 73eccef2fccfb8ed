/**
 * After the run: every SPEC §4 invariant (and the §2–§3 answers, and secrets) checked against the
 * emulators' records, the pipeline's logs and the final bucket and table — never against the
 * pipeline's own idea of what happened.
 */
import type { CreateRecord, TransitionRecord } from '../lib/local/dashscope/index.js';
import type { Plan, JobPlan } from './plan.js';
import type { CreateCall, RunOutput } from './harness.js';
import { jobKeyOfSketchKey, manifestKeyOf, newestVersionOf, sketchOfFetchedKey, versionsOf, type VersionFiles } from './versions.js';

export type InvariantId = 'nothing-lost' | 'pay-once' | 'bounded-in-flight' | 'outputs-no-work' | 'newest-wins' | 'budget' | 'answers' | 'secrets';

/** In the order a failure report names them. */
export const INVARIANTS: ReadonlyArray<[InvariantId, string]> = [
  ['nothing-lost', 'SPEC §4.1 nothing lost (every accepted version ends with a manifest, nothing stuck)'],
  ['pay-once', 'SPEC §4.2 pay once (extra submissions only for a crash before the id was stored, or a lost task)'],
  ['bounded-in-flight', 'SPEC §4.3 at most MAX_IN_FLIGHT tasks in flight'],
  ['outputs-no-work', 'SPEC §4.4 outputs never trigger work'],
  ['newest-wins', 'SPEC §4.5 newest version wins (no output overwritten by an older version)'],
  ['budget', 'SPEC §4.6 at most MAX_IMAGES_PER_DAY images requested per day'],
  ['answers', 'SPEC §2–§3 every sketch answered as specified'],
  ['secrets', 'SPEC §3 no secret in logs, manifests, errors or rows'],
];

export interface Finding {
  invariant: InvariantId;
  jobKey?: string;
  message: string;
}

export interface ExtraSubmissions {
  /** (a) DashScope accepted the task, its id was not stored: a crash at dispatch:task-created … */
  crashBeforeStore: number;
  /** … a reply that never came (timeout, reset: the create's outcome was unknown) … */
  lostReply: number;
  /** … or the function failed storing it (a Tablestore fault, a death). */
  storeFailed: number;
  /** (b) DashScope lost the task (UNKNOWN, InternalError.Timeout): resubmitted. */
  lostTask: number;
  /** Anything else: a version paid twice for no allowed reason. */
  unexplained: number;
}

export interface Summary {
  seed: number;
  sketches: number;
  fit: string;
  breakMode?: string;
  excluded: string[];
  timing: { mixSeconds: number; drainSeconds: number; totalSeconds: number; drained: boolean; dashscopeClockSkewHours: number };
  inputs: { valid: number; invalid: number; hostile: number; ignoredUploads: number; uploads: number; versions: number; edited: number };
  events: { duplicates: number; stale: number; encodedKeys: number; foreign: number; replayedAfterFinish: number; droppedByFc: number; submitInvocations: number; pollerInvocations: number };
  /** DashScope's completion events: how the trigger handed them over, delivered, lost, and the poller invocations they made. */
  completionEvents: { shape: string; delivered: number; lost: number; byFault: Record<string, number>; invocations: number; followed: number };
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  dashscope: {
    accepted: number;
    refused: Record<string, number>;
    firstSubmissions: number;
    extra: ExtraSubmissions;
    maxInFlight: number;
    maxInFlightLimit: number;
    imagesBilled: number;
  };
  /** Images DashScope accepted per day vs what the pipeline's budget row counts (its reservations). */
  budget: { limit: number; binding: boolean; maxRequestedPerDay: number; maxReservedPerDay: number };
  lost: number;
  stuck: number;
  overwritten: number;
  /** The newest version's own images written again after its manifest (same bytes). */
  rewrittenAfterManifest: number;
  outputsTriggeringWork: number;
  wrongAnswers: number;
  secretsFound: number;
  broken: InvariantId[];
  exitStatus: 0 | 1;
}

export interface CheckResult {
  summary: Summary;
  findings: Finding[];
}

interface ManifestLike {
  status?: string;
  source?: { key?: string; etag?: string; sidecar?: { key?: string; etag?: string } };
  request?: { prompt?: string; parameters?: { n?: number } };
  task?: { id?: string; attempts?: number };
  results?: Array<{ index: number; key?: string; bytes?: number; error?: { code?: string } }>;
  usage?: { imageCount?: number };
  error?: { code?: string; message?: string };
}

const OUTPUT_NAME = /\.result(-\d+)?(\.[^./]*)?$/;

function describesVersion(m: ManifestLike | undefined, v: VersionFiles): boolean {
  if (!m?.source) return false;
  return m.source.key === v.sketchKey && m.source.etag === v.sketchEtag && m.source.sidecar?.key === v.sidecarKey && m.source.sidecar?.etag === v.sidecarEtag;
}

function parse(body: Buffer | string | undefined): ManifestLike | undefined {
  if (body === undefined) return undefined;
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as ManifestLike;
  } catch {
    return undefined;
  }
}

/** The budget's day (SPEC §4: a calendar day in Asia/Shanghai), reckoned here, not by lib's budgetDay. */
function shanghaiDay(epochMs: number): string {
  return new Date(epochMs + 8 * 3600_000).toISOString().slice(0, 10);
}

/** The job an output key (`<job>.result.json`, `<job>.result-<i>.png`) belongs to. */
const OUTPUT_OF = /^([\s\S]*)\.result(?:\.json|-\d+\.png)$/;

export function check(plan: Plan, out: RunOutput, options: { maxInFlight: number; maxAttempts: number; breakMode?: string }): CheckResult {
  const { recorded: rec, final } = out;
  const ds = out.pipeline.stack.dashscope;
  const records = ds.records;
  const findings: Finding[] = [];
  const find = (invariant: InvariantId, message: string, jobKey?: string) => findings.push({ invariant, message, ...(jobKey !== undefined ? { jobKey } : {}) });
  const plannedKeys = new Set(plan.jobs.map((j) => j.jobKey));

  // ---------------------------------------------------------------- DashScope records, indexed
  const accepted = records.creates.filter((c) => c.taskId !== undefined);
  const createByTask = new Map<string, CreateRecord & { index: number }>();
  records.creates.forEach((c, index) => {
    if (c.taskId) createByTask.set(c.taskId, { ...c, index });
  });
  const transitions = new Map<string, TransitionRecord[]>();
  for (const t of records.transitions) transitions.set(t.taskId, [...(transitions.get(t.taskId) ?? []), t]);
  const answeredUnknown = new Set(records.queries.filter((q) => q.taskStatus === 'UNKNOWN').map((q) => q.taskId));
  const failedDownloads = new Set(records.downloads.filter((d) => d.status >= 400).map((d) => d.taskId));
  const isLost = (taskId: string) =>
    answeredUnknown.has(taskId) || (transitions.get(taskId) ?? []).some((t) => t.to === 'UNKNOWN' || (t.to === 'FAILED' && t.code === 'InternalError.Timeout'));
  const stored = new Set(final.rows.task.map((r) => r.id));
  const callByTask = new Map<string, CreateCall>();
  for (const c of rec.calls) if (c.taskId) callByTask.set(c.taskId, c);
  const sketchKeyOf = (c: CreateRecord) => sketchOfFetchedKey((c.sketchPath ?? '').replace(/^\//, ''), rec.uploads);

  // Faults aimed at "the next task" strike the first task created after them.
  const injectedOnTask = new Map<string, Array<{ label: string; detail: string }>>();
  const createdInOrder = records.transitions.filter((t) => t.from === null).map((t) => t.taskId);
  for (const f of rec.faults) {
    if (!/^dashscope (task|partial|lost)/.test(f.label)) continue;
    let taskId = f.taskId;
    if (!taskId && f.tasksIndex !== undefined) taskId = createdInOrder[f.tasksIndex];
    if (!taskId && f.createsIndex !== undefined) taskId = records.creates.slice(f.createsIndex).find((c) => c.taskId)?.taskId;
    if (taskId) injectedOnTask.set(taskId, [...(injectedOnTask.get(taskId) ?? []), { label: f.label, detail: f.detail }]);
  }

  // Which version each accepted task was made for: the create call that got its id, or for a reply
  // that never came, the last call for that sketch that was under way when DashScope saw it.
  const versionOfTask = new Map<string, string | undefined>();
  const callOfTask = new Map<string, CreateCall | undefined>();
  for (const c of accepted) {
    let call = callByTask.get(c.taskId!);
    if (!call) {
      const at = c.realAt - rec.startEpoch;
      const key = sketchKeyOf(c);
      call = rec.calls.filter((x) => !x.taskId && x.sketchKey === key && x.t0 <= at + 5).at(-1);
    }
    callOfTask.set(c.taskId!, call);
    versionOfTask.set(c.taskId!, call?.version);
  }

  // ---------------------------------------------------------------- §4.2 pay once, per version
  const tasksOfVersion = new Map<string, string[]>();
  for (const c of accepted) {
    const v = versionOfTask.get(c.taskId!) ?? `?${sketchKeyOf(c)}`;
    tasksOfVersion.set(v, [...(tasksOfVersion.get(v) ?? []), c.taskId!]);
  }
  const extra: ExtraSubmissions = { crashBeforeStore: 0, lostReply: 0, storeFailed: 0, lostTask: 0, unexplained: 0 };
  const crashedAtCreate = new Set(rec.crashes.filter((c) => c.step === 'dispatch:task-created').map((c) => c.jobKey));
  for (const [version, tasks] of tasksOfVersion) {
    const jobKey = jobKeyOfSketchKey(sketchKeyOf(createByTask.get(tasks[0]!)!));
    if (version.startsWith('?')) find('pay-once', `task ${tasks.join(', ')} of ${jobKey} cannot be tied to any create call of the pipeline`, jobKey);
    if (tasks.length < 2) continue;
    const reasons: Array<keyof ExtraSubmissions> = [];
    let kept = 0;
    for (const t of tasks) {
      // An id never stored is case (a) whatever became of the task: the pipeline could not know it.
      if (!stored.has(t)) {
        const call = callOfTask.get(t);
        reasons.push(crashedAtCreate.has(jobKey) ? 'crashBeforeStore' : call?.error ? 'lostReply' : 'storeFailed');
      } else if (isLost(t)) reasons.push('lostTask');
      else kept++;
    }
    if (kept === 0) reasons.pop(); // one of them was the first submission
    for (const r of reasons) extra[r]++;
    if (kept > 1) {
      extra.unexplained += kept - 1;
      find('pay-once', `version ${version} was submitted ${tasks.length} times (${tasks.join(', ')}); ${kept} of those tasks were stored and not lost`, jobKey);
    }
    const lostCount = tasks.filter((t) => stored.has(t) && isLost(t)).length;
    if (lostCount > options.maxAttempts) find('pay-once', `version ${version} was resubmitted after ${lostCount} lost tasks (MAX_ATTEMPTS=${options.maxAttempts})`, jobKey);
  }
  // An event for a task no one created must do nothing and cost nothing: not even a task query.
  for (const id of rec.strayTasks) {
    const calls = records.queries.filter((q) => q.taskId === id).length + records.cancels.filter((c) => c.taskId === id).length;
    if (calls > 0) find('pay-once', `the completion event of a task no one created (${id}) led to ${calls} DashScope call(s) for it`);
    if (final.rows.slot.some((s) => s.value.taskId === id) || final.rows.task.some((t) => t.id === id)) find('pay-once', `the completion event of a task no one created (${id}) left a row for it`);
  }

  // ---------------------------------------------------------------- §4.3 bounded in flight
  const maxInFlight = records.maxInFlight[ds.apiKeyId] ?? 0;
  if (maxInFlight > options.maxInFlight) {
    // Replay the transitions to name the moment and the tasks.
    const live = new Set<string>();
    let named = false;
    for (const t of records.transitions) {
      if (t.to === 'PENDING' || t.to === 'RUNNING') live.add(t.taskId);
      else live.delete(t.taskId);
      if (live.size > options.maxInFlight && !named) {
        named = true;
        const who = [...live].map((id) => {
          const c = createByTask.get(id);
          return `${id.slice(0, 8)} for ${JSON.stringify(c ? sketchKeyOf(c) : '?')} (version ${versionOfTask.get(id)?.slice(0, 8) ?? '?'}, created ${c ? ((c.realAt - rec.startEpoch) / 1000).toFixed(3) : '?'} s${stored.has(id) ? '' : ', id never stored'})`;
        });
        const first = createByTask.get([...live].at(-1)!);
        find(
          'bounded-in-flight',
          `DashScope had ${live.size} tasks PENDING or RUNNING at once (MAX_IN_FLIGHT=${options.maxInFlight}) at ${((t.realAt - rec.startEpoch) / 1000).toFixed(3)} s: ${who.join('; ')}`,
          first ? jobKeyOfSketchKey(sketchKeyOf(first)) : undefined,
        );
      }
    }
    if (!named) find('bounded-in-flight', `DashScope had ${maxInFlight} tasks PENDING or RUNNING at once (MAX_IN_FLIGHT=${options.maxInFlight})`);
  }

  // ---------------------------------------------------------------- §4.4 outputs never trigger work
  let outputsTriggeringWork = 0;
  for (const row of final.rows.job) {
    if (!plannedKeys.has(row.value.jobKey)) {
      outputsTriggeringWork++;
      find('outputs-no-work', `a job exists for ${JSON.stringify(row.value.jobKey)}, which is no uploaded sketch (state ${row.value.current.state})`, row.value.jobKey);
    }
  }
  for (const c of records.creates) {
    const key = sketchKeyOf(c);
    if (!plannedKeys.has(jobKeyOfSketchKey(key))) {
      outputsTriggeringWork++;
      find('outputs-no-work', `DashScope was called for ${JSON.stringify(key)}, which is no uploaded sketch`, jobKeyOfSketchKey(key));
    }
  }
  for (const inv of rec.invocations) {
    if (inv.fn !== 'submit' || inv.error) continue;
    const outcomes = (inv.result as { outcomes?: Array<{ key: string; action: string }> } | undefined)?.outcomes ?? [];
    for (const o of outcomes) {
      const name = o.key.slice(o.key.lastIndexOf('/') + 1);
      if (OUTPUT_NAME.test(name.replace(/\.[^.]*$/, '')) && o.action !== 'skipped') {
        outputsTriggeringWork++;
        find('outputs-no-work', `the output ${JSON.stringify(o.key)} was handled as '${o.action}', not skipped`, jobKeyOfSketchKey(o.key));
      }
    }
  }

  // ---------------------------------------------------------------- per job: lost, newest wins, answers
  let lost = 0;
  let overwritten = 0;
  /** Informational: the newest version's own images written again after its manifest. */
  let rewrittenAfterManifest = 0;
  let wrongAnswers = 0;
  const outcomes: Record<string, number> = {};
  const requestedByDay = new Map<string, number>();
  for (const c of accepted) {
    const day = shanghaiDay(c.realAt);
    requestedByDay.set(day, (requestedByDay.get(day) ?? 0) + (c.n ?? 1));
  }
  const maxRequestedPerDay = Math.max(0, ...requestedByDay.values());
  const rowByKey = new Map(final.rows.job.map((r) => [r.value.jobKey, r.value]));
  // Puts and final objects under each job's output names, in order (the per-job checks filter them further).
  const group = <T>(items: Iterable<T>, keyOf: (item: T) => string) => {
    const byJob = new Map<string, T[]>();
    for (const item of items) {
      const jobKey = OUTPUT_OF.exec(keyOf(item))?.[1];
      if (jobKey === undefined) continue;
      const list = byJob.get(jobKey);
      if (list) list.push(item);
      else byJob.set(jobKey, [item]);
    }
    return byJob;
  };
  const outputPutsOf = group(rec.puts, (p) => p.key);
  const outputObjectsOf = group(final.objects.keys(), (k) => k);

  for (const job of plan.jobs) {
    const newest = newestVersionOf(job.jobKey, rec.uploads);
    if (!newest) continue;
    if (job.expect.kind === 'refused') {
      // SPEC §1: refused by name, with a warning naming it; nothing recorded, sent or written.
      outcomes['refused (key)'] = (outcomes['refused (key)'] ?? 0) + 1;
      const stem = job.jobKey.slice(job.jobKey.lastIndexOf('/') + 1);
      if (!rec.logs.some((l) => l.line.includes('object refused') && l.line.includes(stem))) {
        wrongAnswers++;
        find('answers', `${job.label}: no warning in the log refusing it`, job.jobKey);
      }
      if ((tasksOfVersion.get(newest.id) ?? []).length > 0 || rowByKey.has(job.jobKey)) {
        wrongAnswers++;
        find('answers', `${job.label}: refused by name, yet it has a job row or DashScope tasks`, job.jobKey);
      }
      continue;
    }
    const mkey = manifestKeyOf(job.jobKey);
    const finalObj = final.objects.get(mkey);
    const m = parse(finalObj?.body);
    const outputPuts = outputPutsOf.get(job.jobKey) ?? [];
    const manifestPuts = outputPuts.filter((p) => p.key === mkey && p.ok && !p.injected);
    const newestWritten = manifestPuts.some((p) => describesVersion(p.manifest as ManifestLike, newest));
    const row = rowByKey.get(job.jobKey);
    if (!m || !describesVersion(m, newest)) {
      if (newestWritten) {
        overwritten++;
        find('newest-wins', `the manifest of the newest version ${newest.id} was replaced by one for ${m?.source?.etag ?? '?'}/${m?.source?.sidecar?.etag ?? '-'}`, job.jobKey);
      } else {
        lost++;
        find('nothing-lost', `no manifest for the newest version ${newest.id} (${m ? 'the manifest is an older version’s' : 'no manifest at all'}; job row: ${row ? `${row.current.state}, version ${row.current.id}` : 'none'})`, job.jobKey);
      }
      outcomes['(no answer)'] = (outcomes['(no answer)'] ?? 0) + 1;
      continue;
    }
    const label = m.status === 'FAILED' ? `FAILED ${m.error?.code ?? '?'}` : String(m.status);
    outcomes[label] = (outcomes[label] ?? 0) + 1;

    // Writes after the final manifest, by anything but a rewrite of the same version's manifest.
    const finalPut = manifestPuts.filter((p) => p.sha === finalObj!.sha).at(-1);
    const isOutput = (key: string) => key === mkey || (key.startsWith(`${job.jobKey}.result-`) && /^\d+\.png$/.test(key.slice(job.jobKey.length + 8)));
    if (finalPut) {
      for (const p of outputPuts) {
        if (!p.ok || p.injected || !isOutput(p.key) || p.t0 <= (finalPut.t1 ?? finalPut.t0) || p === finalPut) continue;
        if (p.key === mkey && describesVersion(p.manifest as ManifestLike, newest)) continue;
        // The same version's image written again (two finalizers of one version): same bytes, no harm.
        const index = Number(/\.result-(\d+)\.png$/.exec(p.key)?.[1] ?? NaN);
        if (p.sha !== undefined && rec.downloads.get(`${m.task?.id}/${index}`)?.has(p.sha)) {
          rewrittenAfterManifest++;
          continue;
        }
        overwritten++;
        find('newest-wins', `${p.key} was written after the newest version's manifest (at ${p.t0} ms > ${finalPut.t1} ms), with other bytes than task ${m.task?.id} produced`, job.jobKey);
      }
    }
    // The result images are the ones the manifest's task produced, and nothing else is left.
    const listed = new Set<string>();
    for (const r of m.results ?? []) {
      if (!r.key) continue;
      listed.add(r.key);
      const obj = final.objects.get(r.key);
      if (!obj) {
        lost++;
        find('nothing-lost', `the manifest lists ${r.key}, which does not exist`, job.jobKey);
        continue;
      }
      const shas = rec.downloads.get(`${m.task?.id}/${r.index}`);
      if (!shas || !shas.has(obj.sha)) {
        overwritten++;
        find('newest-wins', `${r.key} is not the image task ${m.task?.id} produced for index ${r.index}`, job.jobKey);
      } else if (r.bytes !== undefined && r.bytes !== obj.size) {
        overwritten++;
        find('newest-wins', `${r.key} has ${obj.size} bytes, the manifest says ${r.bytes}`, job.jobKey);
      }
    }
    for (const key of outputObjectsOf.get(job.jobKey) ?? []) {
      if (key !== mkey && isOutput(key) && !listed.has(key)) {
        overwritten++;
        find('newest-wins', `${key} is left from an older version (the manifest does not list it)`, job.jobKey);
      }
    }

    // §2–§3: the answer the contract asks for.
    const wrong = (message: string) => {
      wrongAnswers++;
      find('answers', message, job.jobKey);
    };
    const tasksOfNewest = tasksOfVersion.get(newest.id) ?? [];
    if (job.expect.kind === 'invalid') {
      if (m.status !== 'FAILED' || m.error?.code !== job.expect.code) wrong(`${job.label}: expected FAILED ${job.expect.code}, got ${label}${m.error ? ` (${m.error.message})` : ''}`);
      if (tasksOfNewest.length > 0) wrong(`${job.label}: refused input, yet DashScope got ${tasksOfNewest.length} task(s) for it (${tasksOfNewest.join(', ')})`);
    } else {
      const taskId = m.task?.id;
      if (m.request?.prompt !== job.expect.prompt) wrong(`${job.label}: prompt ${JSON.stringify(m.request?.prompt)}, expected ${JSON.stringify(job.expect.prompt)}`);
      else if (m.request?.parameters?.n !== job.expect.n) wrong(`${job.label}: n = ${m.request?.parameters?.n}, expected ${job.expect.n}`);
      if (taskId) {
        const c = createByTask.get(taskId);
        if (!c || sketchKeyOf(c) !== newest.sketchKey) wrong(`${job.label}: the manifest's task ${taskId} was made for ${c ? JSON.stringify(sketchKeyOf(c)) : 'no create at all'}, not ${JSON.stringify(newest.sketchKey)}`);
        else if (versionOfTask.get(taskId) !== newest.id) wrong(`${job.label}: the manifest's task ${taskId} was submitted for version ${versionOfTask.get(taskId)}, not the newest ${newest.id}`);
      }
      const attempts = m.task?.attempts ?? 0;
      if (tasksOfNewest.length > attempts) find('pay-once', `${tasksOfNewest.length} tasks for version ${newest.id}, but the manifest counts ${attempts} attempt(s)`, job.jobKey);
      const injected = taskId ? (injectedOnTask.get(taskId) ?? []) : [];
      // DashScope's clock jumped past the result URLs' lifetime after this task was created, and
      // its downloads did fail: images lost that way are explained (SPEC §5 ResultDownloadFailed).
      const jumpedAfter = taskId !== undefined && rec.clockJumps.some((j) => j.t > (createByTask.get(taskId)?.realAt ?? Infinity) - rec.startEpoch);
      const downloadsExpired = taskId !== undefined && (failedDownloads.has(taskId) || answeredUnknown.has(taskId)) && jumpedAfter;
      switch (m.status) {
        case 'SUCCEEDED':
          if ((m.results ?? []).length !== job.expect.n || (m.results ?? []).some((r) => !r.key)) wrong(`${job.label}: SUCCEEDED with ${(m.results ?? []).filter((r) => r.key).length} of ${job.expect.n} images`);
          break;
        case 'PARTIAL':
          {
            const lostToExpiry = downloadsExpired && (m.results ?? []).every((r) => r.key || r.error?.code === 'ResultDownloadFailed');
            if (!injected.some((f) => f.label === 'dashscope partial failure') && !lostToExpiry) wrong(`${job.label}: PARTIAL, but no partial failure was injected on task ${taskId}, nor did its result URLs expire`);
          }
          break;
        case 'FAILED': {
          const code = m.error?.code ?? '';
          const lostTasks = tasksOfNewest.filter(isLost).length;
          const explained =
            (code === 'TaskLost' && lostTasks > 0 && attempts >= options.maxAttempts) ||
            (code === 'ResultDownloadFailed' && downloadsExpired) ||
            (code === 'BudgetExceeded' && plan.budgetBinding && Math.max(maxRequestedPerDay, ...final.rows.budget.map((r) => r.value.used)) + job.expect.n > plan.budget) ||
            (taskId !== undefined && (transitions.get(taskId) ?? []).some((t) => t.to === 'FAILED' && t.code === code) && injected.some((f) => f.detail.includes(code)));
          if (!explained) wrong(`${job.label}: FAILED ${code} (${m.error?.message ?? ''}) with no injected fault that explains it`);
          break;
        }
        default:
          wrong(`${job.label}: ${label}`);
      }
    }
  }

  // ---------------------------------------------------------------- stuck: non-terminal at the end
  let stuck = 0;
  // Never looping: once faults stop, the pipeline must come to rest (no invocation running, no
  // active row, every slot free) — a drain that ran out of time or stalled is a finding itself.
  if (!rec.drained) find('nothing-lost', 'the pipeline did not come to rest after the faults stopped (invocations still running, or the table not idle)');
  for (const row of final.rows.job) {
    const state = row.value.current.state;
    if (!['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELED', 'SUPERSEDED'].includes(state)) {
      stuck++;
      find('nothing-lost', `stuck in ${state} (version ${row.value.current.id}, task ${row.value.current.taskId ?? '-'})`, row.value.jobKey);
    }
  }
  for (const s of final.rows.slot) if (s.value.state !== 'free') find('nothing-lost', `slot ${s.id} still ${s.value.state} at the end (task ${s.value.taskId ?? '-'})`, s.value.jobKey);
  for (const a of final.rows.active) find('nothing-lost', `an active row is left for version ${a.value.versionId}`, a.value.jobKey);
  for (const q of final.rows.queue) find('nothing-lost', `a queue row is left for version ${q.value.versionId}`, q.value.jobKey);

  // ---------------------------------------------------------------- §4.6 budget
  for (const [day, n] of requestedByDay) {
    const reserved = final.rows.budget.find((r) => r.id === day)?.value.used ?? 0;
    if (n > plan.budget) find('budget', `DashScope accepted ${n} images on ${day} (MAX_IMAGES_PER_DAY=${plan.budget}); the budget row counts ${reserved}`);
  }

  // ---------------------------------------------------------------- secrets
  let secretsFound = 0;
  const UNREDACTED = /(x-oss-signature|x-oss-credential|x-oss-security-token|Signature|OSSAccessKeyId)=(?!\[REDACTED\])[^&\s"\\]/i;
  const scan = (where: string, text: string | undefined) => {
    if (!text) return;
    const leak = out.secrets.find((s) => text.includes(s));
    const sig = UNREDACTED.exec(text) ?? /Bearer (?!\[REDACTED\])\S/.exec(text);
    if (leak || sig) {
      secretsFound++;
      find('secrets', `${where}: ${leak ? 'a key, secret or token' : `an unredacted ${sig![0].split('=')[0]}`} in ${JSON.stringify(text.slice(0, 160))}…`);
    }
  };
  for (const l of rec.logs) scan('log', l.line);
  for (const p of rec.puts) scan(`manifest write ${p.key}`, p.text);
  for (const [key, o] of final.objects) if (o.body) scan(`manifest ${key}`, o.body.toString('utf8'));
  for (const inv of rec.invocations) {
    scan(`${inv.fn} error`, inv.error);
    scan(`${inv.fn} result`, inv.result === undefined ? undefined : JSON.stringify(inv.result));
  }
  for (const r of out.pipeline.fc.records) scan('FC invocation record', r.error);
  for (const d of rec.dropped) scan('dropped event', d.error);
  for (const kind of ['job', 'active', 'queue', 'slot', 'budget', 'task'] as const) for (const r of final.rows[kind]) scan(`${kind} row`, JSON.stringify(r.value));

  // ---------------------------------------------------------------- the summary
  const faults: Record<string, number> = {};
  for (const f of rec.faults) faults[f.label] = (faults[f.label] ?? 0) + 1;
  for (const c of rec.crashes) {
    const k = `function crash between steps (${c.mode === 'die' ? 'dies, no cleanup' : 'throws'})`;
    faults[k] = (faults[k] ?? 0) + 1;
  }
  const refused: Record<string, number> = {};
  for (const c of records.creates) if (!c.taskId && c.code) refused[c.code] = (refused[c.code] ?? 0) + 1;
  const extraTotal = extra.crashBeforeStore + extra.lostReply + extra.storeFailed + extra.lostTask + extra.unexplained;
  const broken = INVARIANTS.map(([id]) => id).filter((id) => findings.some((f) => f.invariant === id));
  const versions = new Set<string>();
  for (const j of plan.jobs) for (const v of versionsOf(j.jobKey, rec.uploads)) versions.add(v.id);
  const summary: Summary = {
    seed: plan.seed,
    sketches: plan.sketches,
    fit: plan.fit,
    ...(options.breakMode ? { breakMode: options.breakMode } : {}),
    excluded: plan.excluded,
    timing: {
      mixSeconds: round(rec.mixEndedAt / 1000),
      drainSeconds: round((rec.drainEndedAt - rec.mixEndedAt) / 1000),
      totalSeconds: round(rec.drainEndedAt / 1000),
      drained: rec.drained,
      dashscopeClockSkewHours: rec.finalSkewHours,
    },
    inputs: {
      valid: plan.jobs.filter((j) => j.valid).length,
      invalid: plan.jobs.filter((j) => !j.valid).length,
      hostile: plan.jobs.filter((j) => j.hostile).length,
      ignoredUploads: plan.ignoredKeys.length,
      uploads: rec.uploads.length,
      versions: versions.size,
      edited: plan.jobs.filter((j) => j.edits.length > 0).length,
    },
    events: {
      duplicates: rec.redelivered.duplicates,
      stale: rec.redelivered.stale,
      encodedKeys: rec.redelivered.encoded,
      foreign: rec.redelivered.foreign,
      replayedAfterFinish: rec.redelivered.afterFinish,
      droppedByFc: rec.dropped.length,
      submitInvocations: rec.invocations.filter((i) => i.fn === 'submit').length,
      pollerInvocations: rec.invocations.filter((i) => i.fn === 'poller').length,
    },
    completionEvents: {
      shape: plan.eventShape,
      delivered: records.events.filter((e) => e.delivered).length,
      lost: records.events.filter((e) => !e.delivered).length,
      byFault: records.events.reduce<Record<string, number>>((m, e) => (e.fault ? { ...m, [e.fault]: (m[e.fault] ?? 0) + 1 } : m), {}),
      invocations: rec.invocations.filter((i) => i.fn === 'poller' && typeof i.result === 'object' && i.result !== null && 'followed' in i.result).length,
      followed: rec.invocations.reduce((n, i) => n + (i.fn === 'poller' && typeof i.result === 'object' && i.result !== null && 'followed' in i.result ? (i.result as { followed: string[] }).followed.length : 0), 0),
    },
    outcomes,
    faults,
    dashscope: {
      accepted: accepted.length,
      refused,
      firstSubmissions: accepted.length - extraTotal,
      extra,
      maxInFlight,
      maxInFlightLimit: options.maxInFlight,
      imagesBilled: records.imageCount,
    },
    budget: { limit: plan.budget, binding: plan.budgetBinding, maxRequestedPerDay, maxReservedPerDay: Math.max(0, ...final.rows.budget.map((r) => r.value.used)) },
    lost,
    stuck,
    overwritten,
    rewrittenAfterManifest,
    outputsTriggeringWork,
    wrongAnswers,
    secretsFound,
    broken,
    exitStatus: broken.length === 0 ? 0 : 1,
  };
  return { summary, findings };
}

const round = (n: number) => Math.round(n * 10) / 10;

/** A job's story, for a failure report: uploads, state changes, crashes, FC errors, DashScope records. */
export function historyOf(jobKey: string | undefined, plan: Plan, out: RunOutput): string[] {
  if (!jobKey) return [];
  const { recorded: rec } = out;
  const records = out.pipeline.stack.dashscope.records;
  const lines: Array<[number, string]> = [];
  const job: JobPlan | undefined = plan.jobs.find((j) => j.jobKey === jobKey);
  if (job) lines.push([-1, `plan: ${job.label}; expected ${job.expect.kind === 'valid' ? `an answer (n=${job.expect.n})` : job.expect.kind === 'refused' ? 'refused by name' : `FAILED ${job.expect.code}`}; crashes ${job.crashes.map((c) => `${c.step}/${c.mode}`).join(', ') || 'none'}; edits ${job.edits.join(', ') || 'none'}${job.cursed ? '; cursed (every task lost)' : ''}`]);
  for (const u of rec.uploads) if (jobKeyOfSketchKey(u.key) === jobKey) lines.push([u.t, `upload ${u.role} ${JSON.stringify(u.key)} etag ${u.etag} (${u.size} bytes)`]);
  for (const l of rec.logs) {
    const r = l.rec;
    if (r?.jobKey !== jobKey && !(r && JSON.stringify(r).includes(JSON.stringify(jobKey).slice(1, -1)))) continue;
    if (r?.msg === 'job state') {
      const extras = Object.entries(r)
        .filter(([k]) => !['time', 'level', 'msg', 'jobKey', 'version', 'state', 'requestId', 'fn'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      lines.push([l.t, `${r.fn} ${String(r.state)} v=${String(r.version).slice(0, 8)} ${extras}`]);
    } else if (r) lines.push([l.t, `${String(r.fn ?? '')} ${String(r.level)} ${String(r.msg)} ${JSON.stringify(r.error ?? r.detail ?? r.action ?? '')}`.slice(0, 300)]);
  }
  for (const c of rec.crashes) if (c.jobKey === jobKey) lines.push([c.t, `crash injected at ${c.step} (${c.mode})`]);
  for (const inv of rec.invocations) if (inv.error && inv.keys.some((k) => jobKeyOfSketchKey(k) === jobKey)) lines.push([inv.t0, `${inv.fn} invocation failed: ${inv.error.slice(0, 200)}`]);
  for (const d of rec.dropped) if (d.keys.some((k) => jobKeyOfSketchKey(k) === jobKey)) lines.push([d.t, `FC dropped the event for ${JSON.stringify(d.keys)} after its retries: ${d.error.slice(0, 200)}`]);
  const taskIds = new Set<string>();
  for (const c of records.creates) {
    if (jobKeyOfSketchKey((c.sketchPath ?? '').replace(/^\//, '')) !== jobKey) continue;
    if (c.taskId) taskIds.add(c.taskId);
    const storedRow = c.taskId ? (out.final.rows.task.some((r) => r.id === c.taskId) ? ' (id stored in its task/ row)' : ' (id never stored)') : '';
    lines.push([c.realAt - rec.startEpoch, `dashscope create → ${c.status}${c.code ? ` ${c.code}` : ''}${c.taskId ? ` task ${c.taskId}` : ''}${storedRow}${c.fault ? ` (injected ${c.fault})` : ''}`]);
  }
  for (const t of records.transitions) if (taskIds.has(t.taskId)) lines.push([t.realAt - rec.startEpoch, `dashscope task ${t.taskId.slice(0, 8)} ${t.from ?? '∅'} → ${t.to}${t.code ? ` ${t.code}` : ''}`]);
  for (const q of records.queries) if (taskIds.has(q.taskId) && q.taskStatus === 'UNKNOWN') lines.push([q.realAt - rec.startEpoch, `dashscope query ${q.taskId.slice(0, 8)} answered UNKNOWN`]);
  for (const c of records.cancels) if (taskIds.has(c.taskId)) lines.push([c.realAt - rec.startEpoch, `dashscope cancel ${c.taskId.slice(0, 8)} → ${c.status}${c.code ? ` ${c.code}` : ''}`]);
  for (const p of rec.puts) if (p.key.startsWith(`${jobKey}.result`)) lines.push([p.t0, `put ${p.key.slice(jobKey.length)} ${p.ok ? 'ok' : `failed ${p.error?.slice(0, 80)}`}${p.manifest ? ` (${String((p.manifest as { status?: string }).status)} for etag ${String((p.manifest as { source?: { etag?: string } }).source?.etag)})` : ''}`]);
  for (const j of rec.clockJumps) lines.push([j.t, `(DashScope clock jumped ${j.ms / 3600_000} h)`]);
  return lines.sort((a, b) => a[0] - b[0]).map(([t, s]) => `${t < 0 ? '        ' : `${(t / 1000).toFixed(3).padStart(8)}s`}  ${s}`);
}
