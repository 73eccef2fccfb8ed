/* eslint-disable */
// One fresh Function Compute instance for the memory figure: a new `node` that requires a built
// bundle, receives one invocation over IPC ({ event: base64, context }), runs the exported
// handler, and reports its peak RSS: the kernel's high-water mark (process.resourceUsage().maxRSS,
// load included) and a 5 ms sample of process.memoryUsage().rss as a cross-check.
// Plain CommonJS: nothing from the repo but the bundle is loaded here.
'use strict';

const file = process.argv[2];
const t0 = process.hrtime.bigint();
const mod = require(file);
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
const rssAfterLoad = process.memoryUsage().rss;
let sampledPeak = rssAfterLoad;
const sampler = setInterval(() => {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
}, 5);
process.send({ type: 'ready', loadMs, rssAfterLoad });

process.once('message', async (msg) => {
  const started = Date.now();
  let reply;
  try {
    const result = await mod.handler(Buffer.from(msg.event, 'base64'), msg.context);
    reply = { ok: true, result: result === undefined ? null : result };
  } catch (err) {
    reply = { ok: false, error: err && err.message ? err.message : String(err) };
  }
  clearInterval(sampler);
  sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
  process.send(
    { type: 'done', ...reply, ms: Date.now() - started, loadMs, rssAfterLoad, sampledPeak, maxRssKb: process.resourceUsage().maxRSS },
    () => process.exit(0),
  );
});
