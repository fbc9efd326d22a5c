// Share links (#20), real HTTP clients: curl, wget and Python's requests, holding no
// credentials at all, get the exact bytes of a protected media through its share link,
// following the 302 to the store (S3's presigned URL, or the local store's signed blob
// URL). These are the clients that break on the media URL's own redirect when they
// forward Authorization to S3 (test/integration/clients.test.ts): here there is none to
// forward. And `curl -I` follows a share link to the store's headers without counting a
// use.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcess, type CliResult } from '../support/cli.js';
import { sha256 } from '../support/media.js';
import { newAccount, setProtection, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';


function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, binary)));
}

// A client's environment: no proxy, no config file that could add anything.
const CLIENT_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C' };
// Python's keeps HOME (a user's site-packages may hold requests); the script turns off
// what requests would read from the environment (~/.netrc, proxies).
const PYTHON_ENV: NodeJS.ProcessEnv = { ...CLIENT_ENV, HOME: process.env.HOME };

/** Why a client cannot run here, or undefined. */
function lacking(binary: string, module?: string): string | undefined {
  if (!onPath(binary)) return `${binary} is not installed`;
  // requests is not in Python's standard library: some machines' python3 lacks it.
  if (module && spawnSync(binary, ['-c', `import ${module}`], { env: PYTHON_ENV }).status !== 0) return `${binary}'s ${module} module is not installed`;
  return undefined;
}

/** The answer to POST …/share-links (schema ShareLinkCreated). */
interface ShareLinkCreated {
  sid: string;
  media_sid: string;
  url: string;
  max_uses: number | null;
  uses: number;
  last_used_at: string | null;
}

interface ShareLinkList {
  share_links: (Omit<ShareLinkCreated, 'url'> & { url?: undefined })[];
}

const run = (command: string, args: string[], env: NodeJS.ProcessEnv = CLIENT_ENV): Promise<CliResult> =>
  runProcess(command, args, { env, timeoutMillis: 60_000 });

/** `curl -sS -L -o OUT -w %{http_code} URL` (no -u: no credentials; -q: no ~/.curlrc); its final status. */
async function curlDownload(url: string, out: string): Promise<number> {
  const r = await run('curl', ['-q', '-sS', '-L', '-o', out, '-w', '%{http_code}', url]);
  if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** `wget -S -O OUT URL` (no --user); the status lines of every hop, in order. */
async function wgetDownload(url: string, out: string, home: string): Promise<number[]> {
  // HOME: no ~/.wgetrc or ~/.netrc of the machine's is read (and its ~/.wget-hsts is written in `home`).
  const r = await run('wget', ['-S', '--content-on-error', '-O', out, url], { ...CLIENT_ENV, HOME: home });
  const statuses = [...r.stderr.matchAll(/^\s*HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
  if (statuses.length === 0) throw new Error(`wget exited ${r.code} without a response: ${r.stderr}`);
  return statuses;
}

// requests drops nothing here because it is given nothing: no auth=, and trust_env off
// (no ~/.netrc, no proxy from the environment).
const PYTHON_REQUESTS = `
import json, sys, requests
s = requests.Session()
s.trust_env = False
r = s.get(sys.argv[1], timeout=60)
open(sys.argv[2], "wb").write(r.content)
print(json.dumps({"status": r.status_code, "history": [h.status_code for h in r.history], "sent_authorization": "Authorization" in r.request.headers}))
`;

interface PythonAnswer {
  status: number;
  history: number[];
  sent_authorization: boolean;
}

async function pythonRequestsDownload(url: string, out: string): Promise<PythonAnswer> {
  const r = await run('python3', ['-c', PYTHON_REQUESTS, url, out], PYTHON_ENV);
  if (r.code !== 0) throw new Error(`python3 exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as PythonAnswer;
}

/** `curl -I -L`'s header blocks, one per hop: status and headers (names lower-cased). */
function headerBlocks(output: string): { status: number; headers: Map<string, string> }[] {
  return output
    .split(/\r?\n\r?\n/)
    .filter((block) => /^HTTP\//.test(block.trim()))
    .map((block) => {
      const [statusLine, ...lines] = block.trim().split(/\r?\n/);
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine!)![1]), headers };
    });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'mg-share-clients-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

interface StoreCase {
  storeKind: 's3' | 'local';
  /** S3: where the 302 leads (the bucket's server) */
  storeOrigin: (() => string) | undefined;
  /** the local store: the blob URL's path the 302 leads to */
  storePath: (account: TestAccount, media: MediaJson) => string | undefined;
}

describe.each<StoreCase>([
  { storeKind: 's3', storeOrigin: () => inject('s3Endpoint'), storePath: () => undefined },
  { storeKind: 'local', storeOrigin: undefined, storePath: (a, m) => `/v1/blobs/${a.sid}/${m.sid}` },
])('share links with the $storeKind store, clients without credentials', ({ storeKind, storeOrigin, storePath }) => {
  let svc: TestService;
  let owner: TestAccount;
  let media: MediaJson;
  const bytes = randomBytes(300_000);

  beforeAll(async () => {
    svc = await startService({ storeKind });
    owner = await newAccount(svc.db, 'share-clients');
    expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
    media = await uploadJson(svc, owner, bytes, { contentType: 'application/octet-stream', filename: 'payload.bin' });
    expect(media.requires_auth).toBe(true);
    // Without credentials the media URL itself is closed: the share link is what opens it.
    expect((await fetch(media.url, { redirect: 'manual' })).status).toBe(401);
  });
  afterAll(() => svc?.close());

  async function createLink(body: Record<string, unknown> = {}): Promise<ShareLinkCreated> {
    const res = await fetch(`${svc.baseUrl}/v1/accounts/${owner.sid}/media/${media.sid}/share-links`, {
      method: 'POST',
      headers: { Authorization: owner.basic, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const link = (await res.json()) as ShareLinkCreated;
    expect(link.url.startsWith(`${svc.baseUrl}/s/`)).toBe(true);
    return link;
  }

  /** Where the link's 302 leads (looked at without following it). */
  async function checkLocation(link: ShareLinkCreated): Promise<void> {
    const res = await fetch(link.url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    if (storeOrigin) expect(location.origin).toBe(storeOrigin());
    else expect(location.pathname).toBe(storePath(owner, media));
  }

  const out = () => path.join(work, `${storeKind}-${randomBytes(6).toString('hex')}`);

  const curlMissing = lacking('curl');
  it.skipIf(curlMissing !== undefined)(`curl -L gets the exact bytes${curlMissing ? ` (skipped: ${curlMissing})` : ''}`, async () => {
    const link = await createLink({ label: 'curl' });
    await checkLocation(link);
    const file = out();
    expect(await curlDownload(link.url, file)).toBe(200);
    expect(sha256(await readFile(file))).toBe(sha256(bytes));
  });

  const wgetMissing = lacking('wget');
  it.skipIf(wgetMissing !== undefined)(`wget gets the exact bytes${wgetMissing ? ` (skipped: ${wgetMissing})` : ''}`, async () => {
    const link = await createLink({ label: 'wget' });
    const file = out();
    expect(await wgetDownload(link.url, file, work)).toEqual([302, 200]);
    expect(sha256(await readFile(file))).toBe(sha256(bytes));
  });

  const requestsMissing = lacking('python3', 'requests');
  it.skipIf(requestsMissing !== undefined)(`python requests gets the exact bytes${requestsMissing ? ` (skipped: ${requestsMissing})` : ''}`, async () => {
    const link = await createLink({ label: 'python requests' });
    const file = out();
    expect(await pythonRequestsDownload(link.url, file)).toEqual({ status: 200, history: [302], sent_authorization: false });
    expect(sha256(await readFile(file))).toBe(sha256(bytes));
  });

  it.skipIf(curlMissing !== undefined)(
    `curl -I follows a one-use link to the store's headers and counts no use; a GET takes the use, the next GET is 404${curlMissing ? ` (skipped: ${curlMissing})` : ''}`,
    async () => {
      const link = await createLink({ max_uses: 1, label: 'one use' });
      expect(link).toMatchObject({ max_uses: 1, uses: 0, last_used_at: null });

      const head = await run('curl', ['-q', '-sS', '-I', '-L', link.url]);
      expect(head.code, head.stderr).toBe(0);
      const hops = headerBlocks(head.stdout);
      expect(hops.map((h) => h.status)).toEqual([302, 200]);
      const [redirect, store] = hops as [(typeof hops)[0], (typeof hops)[0]];
      expect(Object.fromEntries(['cache-control', 'referrer-policy', 'x-robots-tag', 'access-control-allow-origin'].map((h) => [h, redirect.headers.get(h)]))).toEqual({
        'cache-control': 'private, no-store',
        'referrer-policy': 'no-referrer',
        'x-robots-tag': 'noindex, nofollow',
        'access-control-allow-origin': '*',
      });
      const location = new URL(redirect.headers.get('location')!);
      if (storeOrigin) {
        expect(location.origin).toBe(storeOrigin());
        // A URL signed for HEAD, living SHARE_URL_TTL_SECONDS (300 by default).
        expect(location.searchParams.get('X-Amz-Expires')).toBe('300');
      } else {
        expect(location.pathname).toBe(storePath(owner, media));
      }
      expect(store.headers.get('content-length')).toBe(String(bytes.length));
      expect(store.headers.get('content-type')).toBe('application/octet-stream');

      // The HEAD used nothing: the link is still listed, with its one use left.
      const listed = async () => {
        const res = await fetch(`${svc.baseUrl}/v1/accounts/${owner.sid}/media/${media.sid}/share-links`, { headers: { Authorization: owner.basic } });
        expect(res.status).toBe(200);
        return ((await res.json()) as ShareLinkList).share_links.find((l) => l.sid === link.sid);
      };
      expect(await listed()).toMatchObject({ sid: link.sid, max_uses: 1, uses: 0, last_used_at: null });

      const file = out();
      expect(await curlDownload(link.url, file)).toBe(200);
      expect(sha256(await readFile(file))).toBe(sha256(bytes));
      // Used up, the link is no longer live: it leaves the list, and answers 404.
      expect(await listed()).toBeUndefined();
      const { rows } = await svc.db.query<{ uses: number }>('SELECT uses FROM share_links WHERE sid = $1', [link.sid]);
      expect(rows).toEqual([{ uses: 1 }]);
      const gone = out();
      expect(await curlDownload(link.url, gone)).toBe(404);
      expect(JSON.parse((await readFile(gone)).toString())).toMatchObject({ error: { status: 404 } });
    },
  );
});
