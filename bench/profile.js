// npm run --silent build && node bench/profile.js [--seconds 10] [--keep DIR]
//
// Where a request's CPU goes, layer by layer, with the reference beside it: the bare Koa
// + @koa/router app answering a fixed 302 (bench/reference-app.js), a node:http server
// answering the same 302 with no framework (the physical limit), and `mediagate serve`
// (zero-config: embedded PostgreSQL, local store, in a temporary directory) answering the
// hot protected redirect and GET /healthz. Each runs under `node --cpu-prof` while wrk
// (or autocannon when wrk is absent) drives it; the profile's samples are attributed to
// the innermost frame that belongs to a layer below, walking up its stack. The profiler
// slows everything a little: read the shares and the differences more than the absolute
// microseconds. docs/performance.md, "Where a request's time goes", is its output.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import { findFreePort } from '../dist/db/embedded.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, keep: { type: 'string' } } });
const SECONDS = Number(args.seconds);
const ROOT = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const work = args.keep ?? (await mkdtemp(path.join(tmpdir(), 'mediagate-profile-')));
const log = (msg) => process.stderr.write(`[profile] ${msg}\n`);

// Layers, innermost first: a sample goes to the first layer found walking up its stack.
const LAYERS = [
  ['access log line (format, batched write)', (u) => /dist\/http\/access-log\.js|dist\/log\.js|node_modules\/pino/.test(u)],
  ['metrics (prom-client)', (u) => /prom-client/.test(u)],
  ['credentials (header parse, SHA-256, cache)', (u, f) => /dist\/(http\/auth|domain\/(credentials|authorization-header|auth-throttle|trusted-cache))\.js|lru-cache/.test(u) || ['digest', 'update', 'createHash', 'hash'].includes(f)],
  ['media URL decision and signed URL (caches, headers)', (u) => /dist\/(http\/routes\/(media-url|health)|domain\/(access|media|media-cache|signed-url-cache|content-disposition|blobs)|storage\/)/.test(u)],
  ['area policy (CORS, cache headers)', (u) => /dist\/http\/(areas|browser-policy)\.js/.test(u)],
  ['request cycle (id, route table, finish, errors)', (u) => /dist\/http\/(app|route|errors|server)\.js|node_modules\/path-to-regexp/.test(u)],
  ['Koa (context, response, compose; router in the reference)', (u) => /node_modules\/(koa|koa-compose|@koa\/router|delegates|on-finished|statuses|vary|content-type|mime-types|type-is|fresh|http-errors|encodeurl|escape-html|cookies|accepts|negotiator)\//.test(u) || /bench\/reference-app/.test(u)],
  ["Node's HTTP parser and writer, sockets", (u) => /^node:(_http|net|internal\/(stream|http|net|streams|timers))|_http_|bench\/bare-node/.test(u)],
  ['garbage collection', (u, f) => f === '(garbage collector)'],
  ['idle', (u, f) => f === '(idle)'],
];
const OTHER = 'V8, libuv, other (promises, timers)';

/** µs of busy CPU per request, by layer. */
async function layersOf(profileDir, requests) {
  const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
  const p = JSON.parse(await readFile(path.join(profileDir, file), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const totals = new Map();
  for (const [id, t] of self) {
    let layer = OTHER;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const { url, functionName } = byId.get(cur).callFrame;
      const hit = LAYERS.find(([, test]) => test(url, functionName));
      if (hit) {
        layer = hit[0];
        break;
      }
    }
    totals.set(layer, (totals.get(layer) ?? 0) + t);
  }
  totals.delete('idle');
  return new Map([...totals].map(([layer, t]) => [layer, t / requests]));
}

async function waitFor(child, text, output) {
  const deadline = Date.now() + 120_000;
  while (!output().includes(text)) {
    if (child.exitCode !== null) throw new Error(`exited: ${output()}`);
    if (Date.now() > deadline) throw new Error(`did not start: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a node program under the profiler; stop() ends it with SIGTERM so the profile is written. */
let profiles = 0;
async function profiled(name, script, env, readyText) {
  const dir = path.join(work, `profile-${++profiles}-${name}`);
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--max-semi-space-size=8', '--heap-growing-percent=50', ...script],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', MALLOC_ARENA_MAX: '2', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  await waitFor(child, readyText, () => err);
  return {
    dir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

let WRK = true;
try {
  await run('wrk', ['--version']);
} catch (err) {
  WRK = err.code !== 'ENOENT';
}

/** Drives url for SECONDS after 2 s of warm-up; the number of answers. */
async function drive(url, headers = {}) {
  if (WRK) {
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    await run('wrk', ['-t1', '-c50', '-d2s', ...h, url]);
    const { stdout } = await run('wrk', ['-t1', '-c50', `-d${SECONDS}s`, ...h, url]);
    return Number(/(\d+) requests in/.exec(stdout)[1]);
  }
  await autocannon({ url, connections: 50, duration: 2, headers });
  const r = await autocannon({ url, connections: 50, duration: SECONDS, headers });
  return r.requests.total;
}

async function measure(name, start, url, headers) {
  const target = await start();
  const requests = await drive(url, headers);
  await target.stop();
  // Warm-up requests are profiled too.
  const total = Math.round(requests * (1 + 2 / SECONDS));
  log(`${name}: ${requests} answers in ${SECONDS} s (${Math.round(requests / SECONDS)}/s, profiled)`);
  return { name, layers: await layersOf(target.dir, total) };
}

const columns = [];
try {
  // The physical limit and the framework's.
  const barePort = await findFreePort();
  columns.push(
    await measure('node:http, fixed 302', () => profiled('bare', ['bench/bare-node.js'], { PORT: String(barePort) }, 'listening'), `http://127.0.0.1:${barePort}/v1/accounts/AC1/media/ME1`),
  );
  const refPort = await findFreePort();
  columns.push(
    await measure('bare Koa + router, fixed 302', () => profiled('reference', ['bench/reference-app.js'], { PORT: String(refPort) }, 'listening'), `http://127.0.0.1:${refPort}/v1/accounts/AC1/media/ME1`),
  );

  // mediagate, zero-config, with one protected media.
  const port = await findFreePort();
  const dataDir = path.join(work, 'data');
  const env = { PORT: String(port), DATA_DIR: dataDir, SHUTDOWN_DELAY_SECONDS: '0', LOG_LEVEL: 'info' };
  const setup = await profiled('setup', ['bin/mediagate.js', 'serve'], env, 'listening on');
  const cli = await run(process.execPath, ['bin/mediagate.js', 'accounts', 'create', '--name', 'profile'], { cwd: ROOT, env: { ...process.env, ...env } });
  const account = JSON.parse(cli.stdout);
  const authorization = `Basic ${Buffer.from(`${account.sid}:${account.auth_token}`).toString('base64')}`;
  const base = `http://127.0.0.1:${port}/v1/accounts/${account.sid}`;
  await fetch(`${base}/settings/media-protection`, { method: 'PATCH', headers: { Authorization: authorization, 'Content-Type': 'application/json' }, body: '{"message":true}' });
  const media = await (await fetch(`${base}/media?kind=message`, { method: 'POST', headers: { Authorization: authorization, 'Content-Type': 'image/png' }, body: 'png' })).json();
  await setup.stop();
  const serve = () => profiled('mediagate', ['bin/mediagate.js', 'serve'], env, 'listening on');
  columns.push(await measure('mediagate: hot protected redirect', serve, media.url, { Authorization: authorization }));
  columns.push(await measure('mediagate: GET /healthz', serve, `http://127.0.0.1:${port}/healthz`));
} finally {
  if (!args.keep) await rm(work, { recursive: true, force: true });
}

const layers = [...LAYERS.map(([name]) => name).filter((n) => n !== 'idle'), OTHER];
const cell = (c, layer) => (c.layers.has(layer) ? c.layers.get(layer).toFixed(1) : '–');
console.log(`| layer (µs of CPU per request) | ${columns.map((c) => c.name).join(' | ')} |`);
console.log(`| --- |${columns.map(() => ' ---: |').join('')}`);
for (const layer of layers) {
  if (columns.every((c) => !c.layers.has(layer))) continue;
  console.log(`| ${layer} | ${columns.map((c) => cell(c, layer)).join(' | ')} |`);
}
const total = (c) => [...c.layers.values()].reduce((a, b) => a + b, 0);
console.log(`| **total** | ${columns.map((c) => `**${total(c).toFixed(1)}**`).join(' | ')} |`);
