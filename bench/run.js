// npm run bench [-- --duration 8 --large 1000000 --connections 50 --out docs/performance-run.md]
//
// Starts its own PostgreSQL (embedded) and S3 server (s3rver), seeds media rows in bulk
// (generate_series), starts the service as a real process, and drives load with
// autocannon. In the same run it measures a bare Koa + @koa/router app answering a fixed
// 302 (the reference) and the naive design (Basic check + SELECT + getSignedUrl per
// request), so ratios compare like with like on this machine.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import S3rver from 's3rver';
import { findFreePort, openEmbeddedPostgres } from '../dist/db/embedded.js';
import { migrate } from '../dist/db/migrate.js';
import { createPool } from '../dist/db/pool.js';
import { createAccount } from '../dist/domain/accounts.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    small: { type: 'string', default: '1000' },
    large: { type: 'string', default: '1000000' },
    out: { type: 'string', default: 'bench/last-run.md' },
  },
});
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const SMALL = Number(args.small);
const LARGE = Number(args.large);
const ROOT = path.resolve(import.meta.dirname, '..');
const BUCKET = 'bench';
const env0 = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

const work = await mkdtemp(path.join(tmpdir(), 'mediagate-bench-'));
const children = [];
const cleanups = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function rss(pid) {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)[1]) * 1024);
}

function descendants(pid) {
  return readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .then((s) => s.trim().split(/\s+/).filter(Boolean).map(Number))
    .catch(() => []);
}

/** RSS of a process plus its children (the cluster workers), in MB. */
async function rssMb(pid) {
  let total = await rss(pid);
  for (const child of await descendants(pid)) {
    const cmd = await readFile(`/proc/${child}/cmdline`, 'latin1').catch(() => '');
    if (cmd.includes('node')) total += await rss(child).catch(() => 0);
  }
  return total / 2 ** 20;
}

async function startProcess(name, args, env, readyText) {
  const fullEnv = Object.fromEntries(Object.entries({ ...env0, ...env }).filter(([, v]) => v !== null && v !== undefined));
  const child = spawn(process.execPath, args, { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (c) => {
    if (out.length < 10_000) out += c;
  });
  child.stderr.on('data', (c) => {
    if (out.length < 10_000) out += c;
  });
  const deadline = Date.now() + 120_000;
  while (!out.includes(readyText)) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function stopProcess(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

// ---- infrastructure ----
log(`work directory ${work}`);
const pgServer = await openEmbeddedPostgres(path.join(work, 'postgres'));
cleanups.push(() => pgServer.stop());
const admin = new pg.Client({ connectionString: pgServer.url });
await admin.connect();
await admin.query('CREATE DATABASE bench_small');
await admin.query('CREATE DATABASE bench_large');
await admin.end();
const dbUrl = (name) => Object.assign(new URL(pgServer.url), { pathname: `/${name}` }).toString();

const s3Port = await findFreePort();
const s3 = new S3rver({ port: s3Port, address: '127.0.0.1', directory: path.join(work, 's3'), silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
await s3.run();
cleanups.push(() => s3.close());
const s3Endpoint = `http://127.0.0.1:${s3Port}`;

/** Seeds n protected media rows (no objects: the redirect never touches the store). */
async function seed(name, n) {
  const pool = createPool(dbUrl(name), { statementTimeoutMillis: 600_000 });
  await migrate(pool);
  const account = await createAccount(pool, 'bench');
  const salt = name;
  const started = Date.now();
  // Row 2 is legacy (public), every other row protected.
  await pool.query(
    `INSERT INTO media (sid, account_sid, kind, content_type, size_bytes, sha256, object_key, requires_auth, created_at)
     SELECT 'ME' || md5(g::text || $2), $1, 'message', 'image/jpeg', 1000, repeat('0', 64),
            $1 || '/ME' || md5(g::text || $2), g <> 2, now() - make_interval(secs => g)
       FROM generate_series(1, $3::int) g`,
    [account.sid, salt, n],
  );
  await pool.query('VACUUM ANALYZE media');
  const seconds = (Date.now() - started) / 1000;
  await pool.end();
  const sidOf = (g) => `ME${createHash('md5').update(`${g}${salt}`).digest('hex')}`;
  log(`seeded ${n} rows into ${name} in ${seconds.toFixed(1)} s`);
  return { account, sidOf, seedSeconds: seconds };
}

const small = await seed('bench_small', SMALL);
const large = await seed('bench_large', LARGE);

// ---- load ----
const results = [];
let referenceRps = 0;
let referenceP99 = 0;

async function load(scenario, target, options, pid) {
  // Warm up first (JIT, caches, connection pools): only the steady state is measured.
  await autocannon({ connections: CONNECTIONS, duration: WARMUP, ...options, url: target });
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...options, url: target });
  const row = {
    scenario,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses: Object.entries(result.statusCodeStats ?? {})
      .map(([code, { count }]) => `${code}×${count}`)
      .join(' '),
    errors: result.errors + result.timeouts,
    rssMb: pid ? await rssMb(pid) : NaN,
  };
  results.push(row);
  log(`${scenario}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, RSS ${row.rssMb.toFixed(0)} MB`);
  return row;
}

const basic = (a) => `Basic ${Buffer.from(`${a.sid}:${a.auth_token}`).toString('base64')}`;
const mediaPath = (a, sid) => `/v1/accounts/${a.sid}/media/${sid}`;

// Reference: measured first and again last; the machine's noise moves both.
async function measureReference(label) {
  const port = await findFreePort();
  const child = await startProcess('reference', ['bench/reference-app.js'], { PORT: String(port) }, 'listening');
  const row = await load(`reference: bare Koa + router, fixed 302 (${label})`, `http://127.0.0.1:${port}${mediaPath(small.account, small.sidOf(2))}`, {}, child.pid);
  await stopProcess(child);
  return row;
}
const referenceFirst = await measureReference('first');

// Naive design.
{
  const port = await findFreePort();
  const child = await startProcess(
    'naive',
    ['bench/naive-app.js'],
    { PORT: String(port), DATABASE_URL: dbUrl('bench_small'), S3_ENDPOINT: s3Endpoint, S3_BUCKET: BUCKET },
    'listening',
  );
  await load('naive: Basic + SELECT + getSignedUrl per request', `http://127.0.0.1:${port}${mediaPath(small.account, small.sidOf(3))}`, { headers: { Authorization: basic(small.account) } }, child.pid);
  await stopProcess(child);
}

async function startService(database, workers, extraEnv = {}) {
  const port = await findFreePort();
  const child = await startProcess(
    'mediagate',
    ['bin/mediagate.js', 'serve'],
    {
      PORT: String(port),
      DATABASE_URL: dbUrl(database),
      S3_BUCKET: BUCKET,
      S3_ENDPOINT: s3Endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      WORKERS: String(workers),
      LOG_LEVEL: 'info',
      // As `npm start` runs it: fewer glibc malloc arenas (see docs/performance.md).
      MALLOC_ARENA_MAX: '2',
      DATA_DIR: path.join(work, `data-${database}-${workers}`),
      ...extraEnv,
    },
    'mediagate listening on',
  );
  // Logs go to the pipe; drain it so the service never blocks on a full pipe.
  child.stdout.resume();
  return { child, base: `http://127.0.0.1:${port}` };
}

const cycle = (a, sidOf, count) => {
  const paths = Array.from({ length: count }, (_, i) => mediaPath(a, sidOf(3 + Math.floor((i * 7919) % (LARGE - 3)))));
  let i = 0;
  return [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }];
};

for (const workers of [1, 2]) {
  const w = workers === 1 ? '' : ` (WORKERS=${workers})`;
  {
    const { child, base } = await startService('bench_small', workers);
    await load(`protected, Basic, one media hot, ${SMALL} rows${w}`, `${base}${mediaPath(small.account, small.sidOf(3))}`, { headers: { Authorization: basic(small.account) } }, child.pid);
    if (workers === 1) {
      await load(`legacy media, anonymous, ${SMALL} rows`, `${base}${mediaPath(small.account, small.sidOf(2))}`, {}, child.pid);
      await load(`protected media, no credentials: 401`, `${base}${mediaPath(small.account, small.sidOf(3))}`, {}, child.pid);
    }
    await stopProcess(child);
  }
  {
    const { child, base } = await startService('bench_large', workers);
    await load(`protected, Basic, one media hot, ${LARGE} rows${w}`, `${base}${mediaPath(large.account, large.sidOf(3))}`, { headers: { Authorization: basic(large.account) } }, child.pid);
    await load(
      `protected, Basic, 10,000 media cycled, ${LARGE} rows${w}`,
      base,
      { headers: { Authorization: basic(large.account) }, requests: cycle(large.account, large.sidOf, 10_000) },
      child.pid,
    );
    await stopProcess(child);
  }
}

// Uploads of 100 KB bodies through the service, against s3rver's own PUT rate.
const body = Buffer.alloc(100 * 1024, 7);
{
  let n = 0;
  await load('s3rver: PUT of 100 KB objects directly', s3Endpoint, {
    requests: [{ setupRequest: (req) => ({ ...req, method: 'PUT', path: `/${BUCKET}/direct/${n++}`, body, headers: { 'Content-Type': 'image/jpeg' } }) }],
  });
}
{
  const { child, base } = await startService('bench_small', 1);
  await load(
    'upload of 100 KB through mediagate to s3rver',
    `${base}/v1/accounts/${small.account.sid}/media?kind=message`,
    { method: 'POST', body, headers: { Authorization: basic(small.account), 'Content-Type': 'image/jpeg' } },
    child.pid,
  );
  await stopProcess(child);
}

// The local store's blob endpoint: a signed URL served by the service itself.
{
  const { child, base } = await startService('bench_small', 1, { S3_BUCKET: null, S3_ENDPOINT: null });
  const up = await fetch(`${base}/v1/accounts/${small.account.sid}/media?kind=message`, {
    method: 'POST',
    headers: { Authorization: basic(small.account), 'Content-Type': 'image/jpeg' },
    body: Buffer.alloc(10 * 1024, 1),
  });
  const media = await up.json();
  const location = (await fetch(media.url, { redirect: 'manual', headers: { Authorization: basic(small.account) } })).headers.get('location');
  await load('local store: blob endpoint, 10 KB object', location, {}, child.pid);
  await stopProcess(child);
}

const referenceLast = await measureReference('last');
referenceRps = (referenceFirst.rps + referenceLast.rps) / 2;
referenceP99 = (referenceFirst.p99 + referenceLast.p99) / 2;

// ---- report ----
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const lines = [
  `Ratios use the mean of the two reference runs: ${fmt(referenceRps)} req/s, p99 ${fmt(referenceP99, 1)} ms.`,
  '',
  `| scenario | req/s | p50 ms | p99 ms | ratio to reference | RSS MB | statuses (errors) |`,
  `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ...results.map(
    (r) => `| ${r.scenario} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt((r.rps / referenceRps) * 100)} % | ${fmt(r.rssMb)} | ${r.statuses}${r.errors ? ` (${r.errors})` : ''} |`,
  ),
];
const find = (prefix) => results.find((r) => r.scenario.startsWith(prefix) && !r.scenario.includes('WORKERS'));
const hot = find(`protected, Basic, one media hot, ${SMALL} rows`);
const hotLarge = find(`protected, Basic, one media hot, ${LARGE} rows`);
const cycled = find(`protected, Basic, 10,000 media cycled`);
const naive = find('naive');
const putDirect = find('s3rver: PUT');
const putService = find('upload of 100 KB');
const targets = [
  ['protected redirect, hot caches ≥ 50 % of reference', hot.rps / referenceRps >= 0.5, `${fmt((hot.rps / referenceRps) * 100)} %`],
  [`10,000 cycled media over ${LARGE} rows ≥ 25 % of reference`, cycled.rps / referenceRps >= 0.25, `${fmt((cycled.rps / referenceRps) * 100)} %`],
  ['p99 ≤ 3× the reference’s', hot.p99 <= 3 * Math.max(referenceP99, 1), `${fmt(hot.p99, 1)} ms vs ${fmt(referenceP99, 1)} ms`],
  // One-sided: the point is that a large table costs nothing (index lookups, cached rows).
  [`${LARGE} rows within 10 % of ${SMALL} rows (not slower)`, hotLarge.rps >= 0.9 * hot.rps, `${fmt(hotLarge.rps)} vs ${fmt(hot.rps)} req/s`],
  ['≥ 8× the naive design', hot.rps / naive.rps >= 8, `${fmt(hot.rps / naive.rps, 1)}×`],
  [`RSS ≤ 150 MB with ${LARGE} rows`, cycled.rssMb <= 150, `${fmt(cycled.rssMb)} MB`],
  ['uploads ≥ 80 % of s3rver’s own PUT rate', putService.rps / putDirect.rps >= 0.8, `${fmt((putService.rps / putDirect.rps) * 100)} %`],
];
lines.push('', '| target | met | measured |', '| --- | --- | --- |', ...targets.map(([t, ok, m]) => `| ${t} | ${ok ? 'yes' : '**no**'} | ${m} |`));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString()}`;
const seeding = `seeding: ${SMALL} rows in ${small.seedSeconds.toFixed(1)} s, ${LARGE} rows in ${large.seedSeconds.toFixed(1)} s`;
const report = `${machine}\n${CONNECTIONS} connections, ${DURATION} s per scenario after ${WARMUP} s of warm-up; ${seeding}\n\n${lines.join('\n')}\n`;
process.stdout.write(`\n${report}`);
await writeFile(path.resolve(ROOT, args.out), report);

for (const c of cleanups.reverse()) await c().catch(() => undefined);
await rm(work, { recursive: true, force: true });
process.exit(0);
