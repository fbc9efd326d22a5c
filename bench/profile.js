// node bench/profile.js FILE.cpuprofile REQUESTS
//
// Where a request's CPU goes, from a profile of the service under load (`node --cpu-prof
// --cpu-prof-dir=DIR bin/mediagate.js serve`, stopped with SIGTERM so the profile is
// written; REQUESTS: how many it answered, e.g. its log's line count). Each sample is
// attributed to the innermost frame of a step below, walking up its stack: the table of
// docs/performance.md ("Where a redirect's time goes").
import { readFileSync } from 'node:fs';
const [file, requests] = [process.argv[2], Number(process.argv[3])];
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
// Attribute each sample to the innermost frame that matches a category, walking up the stack.
const categories = [
  ['credential hash and cache (SHA-256 of the header, LRU)', (u, f) => /domain\/credentials|lru-cache/.test(u) || ['digest', 'update', 'createHash', 'hash'].includes(f)],
  ['media row cache', (u) => /domain\/media-cache/.test(u)],
  ['signed URL cache and disposition', (u) => /signed-url-cache|content-disposition|domain\/media\.js/.test(u)],
  ['the log line (pino)', (u) => /pino|sonic-boom|fast-safe-stringify|quick-format|request-log|dist\/log\.js/.test(u)],
  ['metrics (prom-client)', (u) => /prom-client/.test(u)],
  ['browser policy, auth header, error handler', (u) => /browser-policy|http\/auth|http\/errors/.test(u)],
  ['media URL route (match, headers)', (u) => /routes\/media-url/.test(u)],
  ['Koa (context, response, compose)', (u) => /node_modules\/koa|koa-compose|delegates|on-finished|statuses|vary|content-type|mime|type-is|fresh/.test(u)],
  ['Node HTTP parser and writer, sockets', (u) => /^node:_http|^node:net|^node:internal\/(stream|http|net|streams)|_http_/.test(u)],
  ['GC', (u, f) => f === '(garbage collector)'],
  ['idle', (u, f) => f === '(idle)'],
];
const totals = new Map();
let total = 0;
for (const [id, t] of self) {
  total += t;
  let cat = 'other (V8, libuv, program)';
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    const u = n.callFrame.url, f = n.callFrame.functionName;
    const hit = categories.find(([, test]) => test(u, f));
    if (hit) { cat = hit[0]; break; }
  }
  totals.set(cat, (totals.get(cat) ?? 0) + t);
}
const busy = total - (totals.get('idle') ?? 0);
console.log(`profile ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s, ${requests} requests: ${(busy / requests).toFixed(1)} µs of CPU per request`);
console.log('| step | µs per request | share of busy CPU |\n| --- | ---: | ---: |');
for (const [cat, t] of [...totals].sort((a, b) => b[1] - a[1])) {
  if (cat === 'idle') continue;
  console.log(`| ${cat} | ${(t / requests).toFixed(1)} | ${((t / busy) * 100).toFixed(1)} % |`);
}
