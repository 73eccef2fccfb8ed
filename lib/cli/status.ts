/**
 * `sketchflow status [PREFIX] [--json] [--dir DIR]` (SPEC §7): every job under PREFIX (default
 * SKETCH_PREFIX) with its state and age, why a queued job waits, the in-flight slots, the queue
 * length and today's image budget. Exit 1 when any listed job failed, so scripts can check.
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

function detailOf(job: PipelineStatus['jobs'][number], paused: boolean): string {
  switch (job.state) {
    case 'AWAITING_PROMPT':
      return 'waiting for a prompt (a .json or .txt sidecar, or x-oss-meta-prompt)';
    case 'QUEUED':
      if (job.waitingFor) return `waiting: ${job.waitingFor}`;
      return paused ? 'waiting: submission is paused (see below)' : 'waiting for a free DashScope slot';
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
    lines.push(`${'JOB'.padEnd(width)}  ${'STATE'.padEnd(15)}  ${'AGE'.padStart(7)}  DETAIL`);
    for (const j of report.jobs) {
      lines.push(`${j.jobKey.padEnd(width)}  ${j.state.padEnd(15)}  ${formatAge(j.ageMs).padStart(7)}  ${detailOf(j, report.paused !== undefined)}`.trimEnd());
    }
    const counts = Object.entries(report.counts)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
    lines.push('', `${report.jobs.length} job${report.jobs.length === 1 ? '' : 's'}: ${counts} (${where})`);
  }
  const busy = report.slots.filter((s) => s.state !== 'free');
  const slots = busy.map((s) => `slot ${s.index}: ${s.jobKey ?? '?'}${s.taskId ? ` task ${s.taskId.slice(0, 8)}…` : ` (${s.state})`}`);
  lines.push(
    `in flight: ${busy.length} of ${report.slots.length} slot${report.slots.length === 1 ? '' : 's'}${slots.length ? ` (${slots.join('; ')})` : ''}`,
    `queue: ${report.queued}`,
    `images today (${report.budget.day}, Asia/Shanghai): ${report.budget.used}${report.budget.max ? ` of ${report.budget.max}` : ' (no limit)'}`,
    `poller: ${report.poller ? `running (lease until ${new Date(report.poller.until).toISOString()})` : 'idle'}`,
  );
  if (report.paused) {
    const p = report.paused;
    lines.push(
      `submission: PAUSED since ${new Date(p.since).toISOString()}: DashScope refused the account (${p.code}: ${p.message.replace(/\s+/g, ' ')}); jobs stay QUEUED; next try ${new Date(p.retryAt).toISOString()}, and work resumes by itself once the account is fixed`,
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
