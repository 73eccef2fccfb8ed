/**
 * `npm run bench` — prints the figures of issue 9 with their targets and writes them to
 * bench/results.json (git-ignored) so runs can be compared. `--smoke` runs the tiny version the
 * test suite runs (and writes nothing unless `--out FILE` is given). `--only throughput [--jobs N]`
 * runs figure 8 alone (issue 16: a few minutes) and prints its table, writing nothing.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FULL, runBench, runThroughputOnly, SMOKE } from './bench.js';
import { PRICES, PRICES_READ_ON } from './prices.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : smoke ? undefined : path.join(import.meta.dirname, 'results.json');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const jobsIndex = args.indexOf('--jobs');

if (only !== undefined && only !== 'throughput') {
  process.stderr.write(`bench: --only takes 'throughput' (got ${JSON.stringify(only)})\n`);
  process.exit(2);
}

if (only === 'throughput') {
  const jobs = jobsIndex >= 0 ? Number(args[jobsIndex + 1]) : (smoke ? SMOKE : FULL).throughputJobs;
  const started = Date.now();
  const { figure, table } = await runThroughputOnly(jobs, (line) => process.stderr.write(`  ${line}\n`));
  process.stdout.write(
    `\nsketchflow bench, figure 8 only: ${jobs} sketches a run, ${((Date.now() - started) / 1000).toFixed(0)} s; worst efficiency ${figure.worst.toFixed(3)} (target ≥ ${figure.target}: ${figure.verdict})\n\n${table}\n`,
  );
  process.exit(figure.verdict === 'met' ? 0 : 1);
}

try {
  const results = await runBench({ ...(smoke ? SMOKE : FULL), progress: (line) => process.stderr.write(`  ${line}\n`) });
  const lines = [
    '',
    `sketchflow bench — ${results.startedAt}, ${results.machine.cpus} CPU(s), node ${results.machine.node}${results.machine.commit ? `, commit ${results.machine.commit}` : ''}, ${results.seconds.toFixed(0)} s${smoke ? ' (SMOKE: tiny sizes, not figures)' : ''}`,
    '',
    results.table,
    '',
    `Unit prices (read ${PRICES_READ_ON}; "estimate" = no available source states it):`,
    ...Object.values(PRICES).map((p) => `  ${p.value} ${p.unit}${'estimate' in p && p.estimate ? ' — estimate' : ''}: ${p.source}`),
    '',
    'Cost per image, by item:',
    ...results.figures.cost.lines.map((l) => `  ${l.item.padEnd(24)} ${l.quantityPerImage.toPrecision(4).padStart(10)} ${l.unit.padEnd(44)} CNY ${l.cnyPerImage.toExponential(2)}`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (out) {
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`written: ${path.relative(process.cwd(), out)}\n`);
  }
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
