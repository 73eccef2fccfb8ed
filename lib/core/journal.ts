/**
 * One JSON log line per job state change (job key, version, state, task id): the audit trail
 * operators read, and what local mode turns into progress lines.
 */
import type { CoreDeps } from './deps.js';
import type { JobState, VersionRecord } from './records.js';

export const STATE_MESSAGE = 'job state';

export function logState(deps: CoreDeps, jobKey: string, version: VersionRecord, extra: Record<string, unknown> = {}): void {
  logStateOf(deps, jobKey, version.id, version.state, {
    taskId: version.taskId,
    attempts: version.attempts,
    ...(version.error ? { error: version.error } : {}),
    ...extra,
  });
}

export function logStateOf(deps: CoreDeps, jobKey: string, versionId: string, state: JobState, extra: Record<string, unknown> = {}): void {
  const level = state === 'FAILED' ? 'warn' : 'info';
  deps.log[level](STATE_MESSAGE, { jobKey, version: versionId, state, ...extra });
}
