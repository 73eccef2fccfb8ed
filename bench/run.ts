/**
 * `npm run bench` — prints the figures of issue 9 with their targets and writes them to
 * bench/results.json (git-ignored) so runs can be compared. `--smoke` runs the tiny version the
 * test suite runs (and writes nothing unless `--out FILE` is given).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FULL, runBench, SMOKE } from './bench.js';
import { PRICES, PRICES_READ_ON } from './prices.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : smoke ? undefined : path.join(import.meta.dirname, 'results.json');

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
