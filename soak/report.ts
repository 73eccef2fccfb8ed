/** The one table a soak run prints, and the failure report (seed, first broken invariant, history). */
import { INVARIANTS, type Finding, type Summary } from './checks.js';

const MAX_VALUE = 78;

/** Splits a long value at ", " so the table stays readable. */
function wrap(value: string): string[] {
  if (value.length <= MAX_VALUE) return [value];
  const parts = value.split(', ');
  const lines: string[] = [];
  let line = '';
  for (const p of parts) {
    const next = line ? `${line}, ${p}` : p;
    if (next.length > MAX_VALUE && line) {
      lines.push(`${line},`);
      line = p;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

function table(input: Array<[string, string] | 'rule'>): string {
  const rows: Array<[string, string] | 'rule'> = [];
  for (const r of input) {
    if (r === 'rule') rows.push(r);
    else wrap(r[1]).forEach((v, i) => rows.push([i === 0 ? r[0] : '', v]));
  }
  const width = Math.max(...rows.filter((r): r is [string, string] => r !== 'rule').map(([k]) => k.length));
  const valueWidth = Math.max(...rows.filter((r): r is [string, string] => r !== 'rule').map(([, v]) => v.length));
  const rule = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  const out = [rule];
  for (const r of rows) {
    if (r === 'rule') out.push(rule);
    else out.push(`| ${r[0].padEnd(width)} | ${r[1].padEnd(valueWidth)} |`);
  }
  out.push(rule);
  return out.join('\n');
}

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

export function formatTable(s: Summary): string {
  const e = s.dashscope.extra;
  const extraAllowed = e.crashBeforeStore + e.lostReply + e.storeFailed + e.lostTask;
  const rows: Array<[string, string] | 'rule'> = [
    ['run', `seed ${s.seed}, ${s.sketches} sketches, FIT=${s.fit}${s.breakMode ? `, BROKEN BUILD --break ${s.breakMode}` : ''}${s.excluded.length ? `, excluded ${s.excluded.join(', ')}` : ''}`],
    ['time', `${s.timing.totalSeconds} s (mix ${s.timing.mixSeconds} s, drain ${s.timing.drainSeconds} s${s.timing.drained ? '' : ', did NOT drain'}); DashScope clock ${s.timing.dashscopeClockSkewHours >= 0 ? '+' : ''}${s.timing.dashscopeClockSkewHours} h${Math.abs(s.timing.dashscopeClockSkewHours) >= 24 ? ' — MORE THAN A DAY OFF: results not meaningful' : ''}`],
    'rule',
    ['sketches', `${s.sketches}: ${s.inputs.valid} valid, ${s.inputs.invalid} invalid (${s.inputs.hostile} hostile)`],
    ['uploads', `${s.inputs.uploads} (${s.inputs.versions} versions, ${s.inputs.edited} jobs edited in flight, ${s.inputs.ignoredUploads} reserved/non-sketch)`],
    ['events', `${s.events.submitInvocations} submit, ${s.events.pollerInvocations} poller; re-delivered ${s.events.duplicates} dup, ${s.events.stale} stale, ${s.events.encodedKeys} encoded, ${s.events.replayedAfterFinish} after all finished; ${s.events.foreign} foreign; ${s.events.droppedByFc} dropped by FC`],
    ['completion events', `as ${s.completionEvents.shape}: ${s.completionEvents.delivered} delivered, ${s.completionEvents.lost} lost${Object.keys(s.completionEvents.byFault).length ? ` (faults: ${list(s.completionEvents.byFault)})` : ''}; ${s.completionEvents.invocations} poller invocations followed ${s.completionEvents.followed} tasks`],
    ['outcomes', list(s.outcomes)],
    'rule',
    ['faults injected', String(Object.values(s.faults).reduce((a, b) => a + b, 0))],
    ...Object.entries(s.faults)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([k, v]): [string, string] => [`  ${k}`, String(v)]),
    'rule',
    ['DashScope submissions', `${s.dashscope.accepted} accepted (${s.dashscope.firstSubmissions} first + ${extraAllowed + e.unexplained} extra), ${Object.values(s.dashscope.refused).reduce((a, b) => a + b, 0)} refused`],
    ['  extra: crash before the id was stored', `${e.crashBeforeStore + e.lostReply + e.storeFailed} (crash ${e.crashBeforeStore}, reply lost ${e.lostReply}, store failed ${e.storeFailed})`],
    ['  extra: lost task resubmitted', String(e.lostTask)],
    ['  extra: not allowed', String(e.unexplained)],
    ['  refused creates', list(s.dashscope.refused) || '0'],
    ['images billed', String(s.dashscope.imagesBilled)],
    'rule',
    ['sketches lost', String(s.lost)],
    ['jobs stuck', String(s.stuck)],
    ['outputs overwritten by an older version', `${s.overwritten}${s.rewrittenAfterManifest ? ` (and ${s.rewrittenAfterManifest} of the newest version's own images written again after its manifest, same bytes)` : ''}`],
    ['outputs that triggered work', String(s.outputsTriggeringWork)],
    ['answers not as specified', String(s.wrongAnswers)],
    ['max tasks in flight', `${s.dashscope.maxInFlight} (MAX_IN_FLIGHT ${s.dashscope.maxInFlightLimit})`],
    ['images requested per day (max)', `${s.budget.maxRequestedPerDay} (MAX_IMAGES_PER_DAY ${s.budget.limit}${s.budget.binding ? ', binding' : ''}; budget row ${s.budget.maxReservedPerDay})`],
    ['secrets found', String(s.secretsFound)],
    'rule',
    ['exit status', s.exitStatus === 0 ? '0 (all invariants hold)' : `1 (broken: ${s.broken.join(', ')})`],
  ];
  return table(rows);
}

export function formatFailure(s: Summary, findings: Finding[], history: string[], reproduce: string): string {
  if (s.exitStatus === 0) return '';
  const first = INVARIANTS.find(([id]) => findings.some((f) => f.invariant === id))!;
  const ofFirst = findings.filter((f) => f.invariant === first[0]);
  const lines = [
    `FAILED — seed ${s.seed}. First broken invariant: ${first[1]}`,
    `  ${ofFirst.length} finding(s); the first: ${ofFirst[0]!.jobKey !== undefined ? `${JSON.stringify(ofFirst[0]!.jobKey)}: ` : ''}${ofFirst[0]!.message}`,
    ...ofFirst.slice(1, 6).map((f) => `  also: ${f.jobKey !== undefined ? `${JSON.stringify(f.jobKey)}: ` : ''}${f.message}`),
    ...(ofFirst.length > 6 ? [`  … and ${ofFirst.length - 6} more`] : []),
  ];
  for (const [id, name] of INVARIANTS) {
    if (id === first[0]) continue;
    const n = findings.filter((f) => f.invariant === id).length;
    if (n > 0) lines.push(`  also broken: ${name} (${n})`);
  }
  if (history.length > 0) lines.push('', `History of ${JSON.stringify(ofFirst[0]!.jobKey)} (seconds since start):`, ...history.map((h) => `  ${h}`));
  lines.push('', `Reproduce: ${reproduce}`);
  return lines.join('\n');
}
