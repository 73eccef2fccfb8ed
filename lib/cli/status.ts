/**
 * `sketchflow status [PREFIX] [--json] [--dir DIR]` (SPEC §7): every job under PREFIX (default
 * SKETCH_PREFIX) with its state, age and model, why a queued job waits, each model's in-flight
 * slots and queue, and today's image and CNY budget. Exit 1 when any listed job failed, so scripts can check.
 */
import type { PipelineStatus } from '../core/operations.js';
import { bucketOf, formatAge } from '../local/progress.js';
import { parse, type Command } from './io.js';
import { openTarget } from './target.js';
import { noExtraArgs } from './terminal.js';

export const status: Command = async (args, io) => {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, dir: { type: 'string' } });
  noExtraArgs(positionals, 1, 'sketchflow status [PREFIX] [--json] [--dir DIR]');
  const target = await openTarget(io, { writes: false, ...(values.dir !== undefined ? { dir: values.dir } : {}) });
  let report: PipelineStatus;
  try {
    report = await target.status(positionals[0]);
  } finally {
    await target.close();
  }
  if (values.json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(formatStatus(report, target.where));
  return report.jobs.some((j) => bucketOf(j.state) === 'failed') ? 1 : 0;
};

function detailOf(job: PipelineStatus['jobs'][number], pausedModels: ReadonlySet<string>): string {
  const paused = job.model !== undefined && pausedModels.has(job.model);
  switch (job.state) {
    case 'AWAITING_PROMPT':
      return 'waiting for a prompt (a .json or .txt sidecar, or x-oss-meta-prompt)';
    case 'QUEUED':
      if (job.waitingFor) return `waiting: ${job.waitingFor}`;
      return paused ? 'waiting: submission is paused (see below)' : `waiting for a free slot of ${job.model ?? 'its model'}`;
    case 'SUCCEEDED':
      return job.taskId ? `task ${job.taskId}` : '';
    default:
      if (job.error) return `${job.error.code}: ${job.error.message.replace(/\s+/g, ' ')}`;
      return job.taskId ? `task ${job.taskId}${job.attempts > 1 ? ` (attempt ${job.attempts})` : ''}` : '';
  }
}

export function formatStatus(report: PipelineStatus, where: string): string {
  const lines: string[] = [];
  if (report.jobs.length === 0) {
    lines.push(`no jobs (${where})`);
  } else {
    const width = Math.min(48, Math.max(3, ...report.jobs.map((j) => j.jobKey.length)));
    const modelWidth = Math.max(5, ...report.jobs.map((j) => (j.model ?? '-').length));
    const pausedModels = new Set(report.models.filter((m) => m.paused).map((m) => m.model));
    lines.push(`${'JOB'.padEnd(width)}  ${'STATE'.padEnd(15)}  ${'AGE'.padStart(7)}  ${'MODEL'.padEnd(modelWidth)}  DETAIL`);
    for (const j of report.jobs) {
      lines.push(`${j.jobKey.padEnd(width)}  ${j.state.padEnd(15)}  ${formatAge(j.ageMs).padStart(7)}  ${(j.model ?? '-').padEnd(modelWidth)}  ${detailOf(j, pausedModels)}`.trimEnd());
    }
    const counts = Object.entries(report.counts)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
    lines.push('', `${report.jobs.length} job${report.jobs.length === 1 ? '' : 's'}: ${counts} (${where})`);
  }
  const busy = report.slots.filter((s) => s.state !== 'free');
  const slots = busy.map((s) => `${s.model} slot ${s.index}: ${s.jobKey ?? '?'}${s.taskId ? ` task ${s.taskId.slice(0, 8)}…` : ` (${s.state})`}`);
  const { cny } = report.budget;
  lines.push(
    `in flight: ${busy.length} of ${report.slots.length} slot${report.slots.length === 1 ? '' : 's'}${slots.length ? ` (${slots.join('; ')})` : ''}`,
    ...report.models.map(
      (m) => `  ${m.model}: ${m.inFlight} of ${m.slots} in flight, ${m.queued} queued (runs ${m.concurrency} at a time, ${m.createsPerSecond} creates/s, CNY ${m.priceCny} an image)${m.paused ? ', PAUSED' : ''}`,
    ),
    `queue: ${report.queued}`,
    `images today (${report.budget.day}, Asia/Shanghai): ${report.budget.used}${report.budget.max ? ` of ${report.budget.max}` : ' (no limit)'}`,
    `spent today: CNY ${cny.used}${cny.max ? ` of ${cny.max}` : ' (no limit: MAX_CNY_PER_DAY=0)'}`,
    `poller: ${report.poller ? `running (lease until ${new Date(report.poller.until).toISOString()})` : 'idle'}`,
  );
  for (const m of report.models) {
    const p = m.paused;
    if (!p) continue;
    lines.push(
      `submission: PAUSED since ${new Date(p.since).toISOString()}: DashScope refused the account (${p.code}: ${p.message.replace(/\s+/g, ' ')}) for ${m.model}; its jobs stay QUEUED; next try ${new Date(p.retryAt).toISOString()}, and work resumes by itself once the account is fixed`,
    );
  }
  if (report.unrecorded.length > 0) {
    const shown = report.unrecorded.slice(0, 5).join(', ');
    lines.push(
      `not recorded yet: ${report.unrecorded.length} upload${report.unrecorded.length === 1 ? '' : 's'} (${shown}${report.unrecorded.length > 5 ? ', …' : ''}); the poller's catch-up listing finds them, or \`sketchflow backfill PREFIX\` queues them now`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
