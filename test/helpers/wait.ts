/** The one polling loop of the tests: wait for a condition, bounded so a missing event fails the test. */

export interface WaitOptions {
  /** How long to keep trying, ms (default 15 s). */
  timeoutMs?: number;
  /** Pause between tries, ms (default 25). */
  everyMs?: number;
  /** Appended to the timeout error after a newline (e.g. the last log lines), read when it is thrown. */
  detail?: () => string;
}

/**
 * Polls `check` until it returns a value (anything but undefined or false) and resolves with it;
 * after `timeoutMs` rejects with "timed out after N ms waiting for WHAT" (plus `detail()`).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 15_000, everyMs = 25, detail }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
