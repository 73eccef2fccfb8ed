/* eslint-disable */
// One Function Compute instance, as the nodejs20 runtime runs it: a fresh `node` process whose
// working directory is the code folder, that `require`s `<handler file>.js` once and calls the
// exported handler with the event as a Buffer and an FC-shaped context, one request at a time.
// Plain CommonJS on purpose: nothing from the repo (no tsx, no sources) is loaded here.
//
// Used by the bundle tests (test/deploy/instances.ts) and the bench's memory figure.
//
// argv: <code dir> <handler, e.g. index.handler>. Messages over the IPC channel:
//   parent → child  { id, event: base64, context }
//   child  → parent { type: 'ready', loadMs, exports, rss, loaded } once, then
//                   { id, ok, result | error, ms, rss, maxRssKb, sampledPeak, loaded } per invocation:
//   maxRssKb is the kernel's high-water mark of this process (load included), sampledPeak a 5 ms
//   sample of the RSS during that invocation, as a cross-check; loaded lists the code folder's files required so
//   far (the bundles require their SDK files on first use).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The high-water mark of this process's own memory: VmHWM belongs to the address space exec gave
// it. getrusage's maxRSS (process.resourceUsage) does not: Linux carries the forked copy of the
// parent over an exec, so a child spawned by a 300 MiB parent reports at least ~300 MiB whatever
// it uses (a bench process holding the emulators and a 20 MB sketch read 153 MiB for a submit
// whose RSS never passed 81 MiB).
function highWaterKb() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: the rusage figure is all there is
  }
  return process.resourceUsage().maxRSS;
}

const [codeDir, handlerName = 'index.handler'] = process.argv.slice(2);
const dot = handlerName.lastIndexOf('.');
const file = path.join(codeDir, `${handlerName.slice(0, dot)}.js`);
const exported = handlerName.slice(dot + 1);

process.chdir(codeDir);
const t0 = process.hrtime.bigint();
const mod = require(file);
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
const handler = mod[exported];
const root = path.resolve(codeDir);
const loaded = () =>
  Object.keys(require.cache)
    .filter((f) => f.startsWith(root + path.sep))
    .map((f) => path.relative(root, f))
    .sort();
process.send({ type: 'ready', loadMs, exports: Object.keys(mod), rss: process.memoryUsage().rss, loaded: loaded() });

let queue = Promise.resolve();
process.on('message', (msg) => {
  // FC's standard runtimes run one request per instance at a time.
  queue = queue.then(async () => {
    const started = Date.now();
    let sampledPeak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
    }, 5);
    let reply;
    try {
      if (typeof handler !== 'function') throw new Error(`${handlerName} is not a function`);
      const result = await handler(Buffer.from(msg.event, 'base64'), msg.context);
      reply = { ok: true, result: result === undefined ? null : result };
    } catch (err) {
      reply = { ok: false, error: err && err.message ? err.message : String(err) };
    }
    clearInterval(sampler);
    const rss = process.memoryUsage().rss;
    process.send({ id: msg.id, ...reply, ms: Date.now() - started, rss, maxRssKb: highWaterKb(), sampledPeak: Math.max(sampledPeak, rss), loaded: loaded() });
  });
});
process.on('disconnect', () => process.exit(0));
