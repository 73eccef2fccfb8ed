import { parse, UsageError, type Command } from './io.js';

/**
 * `sketchflow setup` (SPEC §7): creates the Tablestore table (idempotent) and checks that the
 * bucket, the Tablestore instance and the DashScope key answer, one line per check.
 * Exit 0 when every check passes, 1 when one fails, 2 for missing or invalid settings/credentials.
 */
export const setup: Command = async (args, io) => {
  const { positionals } = parse(args, {});
  if (positionals.length > 0) throw new UsageError('`sketchflow setup` takes no arguments; it reads the settings (SPEC §6) and ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET from the environment');
  const { runSetup } = await import('../ops/setup.js');
  const { ok, checks } = await runSetup(io.env, {
    onCheck: (check) => io.stdout(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(10)} ${check.detail}\n`),
  });
  if (ok) {
    io.stdout('setup: every check passed; next: npm run build && npx s deploy\n');
    return 0;
  }
  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  io.stderr(`sketchflow: setup: ${failed.length} check(s) failed (${failed.join(', ')})\n`);
  return 1;
};
