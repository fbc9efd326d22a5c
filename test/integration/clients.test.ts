// Issue #11: real HTTP clients fetch protected and legacy media with Basic credentials,
// following the media URL, against S3's rule that a presigned request carrying an
// Authorization header is refused (400 InvalidArgument: "Only one auth mechanism
// allowed"; s3rver enforces it as S3 does). In redirect mode (the 302) the clients that
// forward credentials to the presigned URL fail; with MEDIA_DELIVERY=proxy every client
// gets the exact bytes.
import { spawnSync } from 'node:child_process';
import { runProcess, type CliResult } from '../support/cli.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../support/media.js';
import { accountWithMedia, basicAuth, startService, type AccountWithMedia, type TestService } from '../support/service.js';

const CLIENTS_DIR = path.resolve(import.meta.dirname, '../support/clients');
const S3_REFUSAL = 'Only one auth mechanism allowed';

type RunResult = CliResult;

/** Runs a client program to its end; never throws for a non-zero exit (wget exits 8 on a 400). */
const runClient = (command: string, args: string[], timeoutMillis = 90_000) => runProcess(command, args, { timeoutMillis });

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, binary)));
}

interface Download {
  /** the final HTTP status the client saw */
  status: number;
  body: Buffer;
}

interface Target {
  url: string;
  out: string;
}

interface Client {
  name: string;
  /** the programs it needs on PATH */
  binaries: string[];
  /** what else it needs, when missing (a library of the interpreter) */
  missing?: () => string | undefined;
  /** downloads each target (following redirects) with the account's Basic credentials */
  download(user: string, password: string, targets: Target[]): Promise<Download[]>;
}

async function readDownloads(targets: Target[], statuses: number[]): Promise<Download[]> {
  expect(statuses).toHaveLength(targets.length);
  return Promise.all(targets.map(async (t, i) => ({ status: statuses[i]!, body: await readFile(t.out).catch(() => Buffer.alloc(0)) })));
}

/** One process per target, their final status read by `statusOf`. */
function perTarget(command: string, argsFor: (user: string, password: string, t: Target) => string[], statusOf: (r: RunResult) => number) {
  return async (user: string, password: string, targets: Target[]) => {
    const statuses: number[] = [];
    for (const t of targets) statuses.push(statusOf(await runClient(command, argsFor(user, password, t))));
    return readDownloads(targets, statuses);
  };
}

const curlStatus = (r: RunResult) => {
  if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr}`);
  return Number(r.stdout.trim());
};
// wget -S prints each response's status line; the last one is where it ended.
const wgetStatus = (r: RunResult) => {
  const lines = [...r.stderr.matchAll(/^\s*HTTP\/1\.[01] (\d{3})/gm)];
  if (lines.length === 0) throw new Error(`wget exited ${r.code} without a response: ${r.stderr}`);
  return Number(lines[lines.length - 1]![1]);
};
const printedStatus = (r: RunResult) => {
  if (r.code !== 0) throw new Error(`client exited ${r.code}: ${r.stderr}`);
  return Number(r.stdout.trim());
};

/** test/support/clients/MediaClient.java, run as a single-file program: one HttpClient for all the targets. */
async function runJava(mode: 'authenticator' | 'header' | 'manual-redirect', user: string, password: string, targets: Target[]): Promise<Download[]> {
  // -XX:-UsePerfData: no /tmp/hsperfdata_USER left behind (the JVM ignores TMPDIR for it).
  const r = await runClient('java', ['-XX:-UsePerfData', path.join(CLIENTS_DIR, 'MediaClient.java'), mode, user, password, ...targets.flatMap((t) => [t.url, t.out])]);
  if (r.code !== 0) throw new Error(`java exited ${r.code}: ${r.stderr}`);
  return readDownloads(targets, r.stdout.trim().split('\n').map(Number));
}

/** docs/clients.md's two-step recipes: the JSON answer (`getJson` URL), then its URL without credentials (`download` "$url" to "$4"). */
function twoStepClient(tool: string, getJson: string, download: string, statusOf: (r: RunResult) => number): Client {
  return {
    name: `${tool} through ?redirect=false and jq (docs/clients.md)`,
    binaries: [tool, 'jq', 'sh'],
    download: perTarget('sh', (u, p, t) => ['-c', `url=$(${getJson} "$3?redirect=false" | jq -r .url) && ${download}`, 'sh', u, p, t.url, t.out], statusOf),
  };
}

const CLIENTS: Record<string, Client> = {
  curlLocation: {
    name: 'curl -L -u',
    binaries: ['curl'],
    download: perTarget('curl', (u, p, t) => ['-sS', '-L', '-u', `${u}:${p}`, '-o', t.out, '-w', '%{http_code}', t.url], curlStatus),
  },
  curlLocationTrusted: {
    name: 'curl --location-trusted -u',
    binaries: ['curl'],
    download: perTarget('curl', (u, p, t) => ['-sS', '--location-trusted', '-u', `${u}:${p}`, '-o', t.out, '-w', '%{http_code}', t.url], curlStatus),
  },
  curlJson: twoStepClient('curl', 'curl -fsS -u "$1:$2"', 'curl -sS -o "$4" -w "%{http_code}" "$url"', curlStatus),
  wgetJson: twoStepClient('wget', 'wget -qO- --user="$1" --password="$2"', 'wget -S --content-on-error -O "$4" "$url"', wgetStatus),
  wgetNoChallenge: {
    name: 'wget --auth-no-challenge --user --password',
    binaries: ['wget'],
    download: perTarget(
      'wget',
      (u, p, t) => ['-S', '--content-on-error', '--auth-no-challenge', `--user=${u}`, `--password=${p}`, '-O', t.out, t.url],
      wgetStatus,
    ),
  },
  wgetChallenge: {
    name: 'wget --user --password',
    binaries: ['wget'],
    download: perTarget('wget', (u, p, t) => ['-S', '--content-on-error', `--user=${u}`, `--password=${p}`, '-O', t.out, t.url], wgetStatus),
  },
  javaAuthenticator: {
    name: 'Java 17 HttpClient with an Authenticator (a new client per download)',
    binaries: ['java'],
    download: async (u, p, targets) => {
      const downloads: Download[] = [];
      for (const t of targets) downloads.push(...(await runJava('authenticator', u, p, [t])));
      return downloads;
    },
  },
  javaAuthenticatorReused: {
    name: 'Java 17 HttpClient with an Authenticator, one client for both downloads',
    binaries: ['java'],
    download: (u, p, targets) => runJava('authenticator', u, p, targets),
  },
  javaManualRedirect: {
    name: "Java 17 HttpClient with an Authenticator, not following redirects, and the Location fetched without credentials (docs/clients.md's recipe)",
    binaries: ['java'],
    download: (u, p, targets) => runJava('manual-redirect', u, p, targets),
  },
  javaHeader: {
    name: 'Java 17 HttpClient with a hand-set Authorization header',
    binaries: ['java'],
    download: (u, p, targets) => runJava('header', u, p, targets),
  },
  pythonRequests: {
    name: 'python requests with auth=',
    binaries: ['python3'],
    // requests is not in Python's standard library: some machines' python3 lacks it.
    missing: () => (spawnSync('python3', ['-c', 'import requests']).status === 0 ? undefined : "python3's requests module"),
    download: perTarget('python3', (u, p, t) => [path.join(CLIENTS_DIR, 'media_client.py'), 'requests', u, p, t.url, t.out], printedStatus),
  },
  pythonUrllibHandler: {
    name: 'python urllib with an HTTPBasicAuthHandler',
    binaries: ['python3'],
    download: perTarget('python3', (u, p, t) => [path.join(CLIENTS_DIR, 'media_client.py'), 'urllib-handler', u, p, t.url, t.out], printedStatus),
  },
  pythonUrllibHeader: {
    name: 'python urllib with a hand-set Authorization header',
    binaries: ['python3'],
    download: perTarget('python3', (u, p, t) => [path.join(CLIENTS_DIR, 'media_client.py'), 'urllib-header', u, p, t.url, t.out], printedStatus),
  },
  nodeFetch: {
    name: 'Node fetch with an Authorization header',
    binaries: [],
    download: async (u, p, targets) => {
      const downloads: Download[] = [];
      for (const t of targets) {
        const res = await fetch(t.url, { headers: { Authorization: basicAuth(u, p) } });
        downloads.push({ status: res.status, body: Buffer.from(await res.arrayBuffer()) });
      }
      return downloads;
    },
  },
};

type Outcome = 'bytes' | 'S3 400';

interface Expectation {
  client: Client;
  protectedMedia: Outcome;
  legacy: Outcome;
}

/**
 * The account's media on a service: a legacy media (public, but fetched here with the
 * credentials anyway, as a client configured with them does) and a protected one.
 */
interface Setup extends AccountWithMedia {
  svc: TestService;
}

async function setUp(svc: TestService): Promise<Setup> {
  return { svc, ...(await accountWithMedia(svc, { name: 'clients', legacySize: 40_000, protectedSize: 70_000 })) };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'mg-clients-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

function describeOutcome(outcome: Outcome): string {
  return outcome === 'bytes' ? 'gets the exact bytes' : "gets S3's 400";
}

/** One test per client: both media downloaded, each outcome checked. */
function clientTests(setup: () => Setup, expectations: Expectation[]): void {
  for (const { client, protectedMedia: onProtected, legacy: onLegacy } of expectations) {
    const title =
      onProtected === onLegacy
        ? `${client.name} ${describeOutcome(onProtected)} of protected and legacy media`
        : `${client.name} ${describeOutcome(onProtected)} of protected media, and ${describeOutcome(onLegacy)} of legacy media`;
    const absent = client.binaries.filter((b) => !onPath(b));
    const lacking = absent.length === 0 ? client.missing?.() : undefined;
    if (lacking) absent.push(lacking);
    if (absent.length > 0) {
      it.skip(`${title} (skipped: ${absent.join(' and ')} not installed)`, () => undefined);
      continue;
    }
    it(title, async () => {
      const s = setup();
      const prefix = path.join(work, `${s.owner.sid}-${randomBytes(6).toString('hex')}`);
      const targets = [
        { url: s.protectedMedia.url, out: `${prefix}-protected` },
        { url: s.legacy.url, out: `${prefix}-legacy` },
      ];
      const [gotProtected, gotLegacy] = await client.download(s.owner.sid, s.owner.authToken, targets);
      const check = (got: Download, outcome: Outcome, bytes: Buffer, what: string) => {
        if (outcome === 'bytes') {
          expect(got.status, `${what}: ${got.body.subarray(0, 300).toString()}`).toBe(200);
          expect(sha256(got.body), what).toBe(sha256(bytes));
        } else {
          expect(got.status, what).toBe(400);
          expect(got.body.toString(), what).toContain('<Code>InvalidArgument</Code>');
          expect(got.body.toString(), what).toContain(S3_REFUSAL);
        }
      };
      check(gotProtected!, onProtected, s.protectedBytes, 'protected media');
      check(gotLegacy!, onLegacy, s.legacyBytes, 'legacy media');
    }, 120_000);
  }
}

const bytesFromBoth = (client: Client): Expectation => ({ client, protectedMedia: 'bytes', legacy: 'bytes' });
const refusedBoth = (client: Client): Expectation => ({ client, protectedMedia: 'S3 400', legacy: 'S3 400' });

// They drop the credentials when a redirect leaves the origin; curl (since 7.83),
// requests, Java's and urllib's authenticators and fetch compare the port too.
const DROPPING_CREDENTIALS = [
  CLIENTS.curlLocation!,
  CLIENTS.javaAuthenticator!,
  CLIENTS.javaManualRedirect!,
  CLIENTS.pythonRequests!,
  CLIENTS.pythonUrllibHandler!,
  CLIENTS.nodeFetch!,
].map(bytesFromBoth);

const FORWARDING_CREDENTIALS: Expectation[] = [
  // They forward Authorization to the presigned URL, legacy media included (the
  // service accepts the valid credentials there too and redirects).
  ...[CLIENTS.curlLocationTrusted!, CLIENTS.wgetNoChallenge!, CLIENTS.javaHeader!, CLIENTS.pythonUrllibHeader!].map(refusedBoth),
  // The JDK stores the credentials it was challenged for under the URL the exchange
  // ended at (the presigned URL's folder in the bucket), since its redirect filter
  // answers the 302 before the authentication filter sees it. The next download that
  // reaches the bucket without a challenge (legacy media) sends them there
  // preemptively. (Protected media first, then legacy media, with one client.)
  { client: CLIENTS.javaAuthenticatorReused!, protectedMedia: 'bytes', legacy: 'S3 400' },
];

// The bucket on another host name than the service (localhost vs 127.0.0.1), as in
// production: the service at api.example.com, S3 at bucket.s3.amazonaws.com.
const s3ElsewhereEndpoint = () => {
  const u = new URL(inject('s3Endpoint'));
  u.hostname = 'localhost';
  return u.origin;
};

describe('redirect mode (the default 302), bucket on another host name', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(await startService({ s3Endpoint: s3ElsewhereEndpoint() }));
    const location = (await fetch(s.legacy.url, { redirect: 'manual' })).headers.get('location')!;
    expect(new URL(location).hostname).toBe('localhost');
    expect(new URL(s.legacy.url).hostname).toBe('127.0.0.1');
  });
  afterAll(() => s?.svc.close());

  clientTests(() => s, [
    ...DROPPING_CREDENTIALS,
    bytesFromBoth(CLIENTS.curlJson!),
    bytesFromBoth(CLIENTS.wgetJson!),
    // wget without --auth-no-challenge sends them only after a 401, and then only to
    // that host name: the bucket, another host, gets none.
    bytesFromBoth(CLIENTS.wgetChallenge!),
    ...FORWARDING_CREDENTIALS,
  ]);
});

describe('redirect mode, bucket on the same host name as the service (another port)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(await startService());
    const location = (await fetch(s.legacy.url, { redirect: 'manual' })).headers.get('location')!;
    expect(new URL(location).hostname).toBe(new URL(s.legacy.url).hostname);
    expect(new URL(location).port).not.toBe(new URL(s.legacy.url).port);
  });
  afterAll(() => s?.svc.close());

  clientTests(() => s, [
    ...DROPPING_CREDENTIALS,
    // wget remembers that the host *name* challenged it and sends the credentials to
    // the bucket on another port of it; legacy media never challenges.
    { client: CLIENTS.wgetChallenge!, protectedMedia: 'S3 400', legacy: 'bytes' },
    ...FORWARDING_CREDENTIALS,
  ]);
});

describe('MEDIA_DELIVERY=proxy: the media URL answers with the bytes', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(await startService({ s3Endpoint: s3ElsewhereEndpoint(), env: { MEDIA_DELIVERY: 'proxy' } }));
  });
  afterAll(() => s?.svc.close());

  clientTests(() => s, Object.values(CLIENTS).map(bytesFromBoth));
});
