// Uploads as clients send them: multipart forms from real clients (curl -F, Python's
// requests, Node's FormData), refused form-encoded and untyped bodies, and direct uploads
// whose bytes go straight to the store (s3rver, and the local store's signed PUT).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/domain/maintenance.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { createScratchDatabase, runProcess } from '../support/cli.js';
import { accountApi, bearerFor, registerApplication } from '../support/credentials.js';
import { basicAuth, getMediaUrl, newAccount, S3_CREDENTIALS, servicesForFile, setProtection, startService, type MediaJson, type TestAccount, type TestService } from '../support/service.js';
import { sha256 } from '../support/media.js';
import { signatureValid } from '../support/sigv4.js';


const service = servicesForFile();

/** What the store holds of an account: the keys its listing names. */
async function storedKeys(svc: TestService, accountSid: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of svc.store.list()) if (o.key.startsWith(accountSid)) keys.push(o.key);
  return keys;
}

async function rowsOf(svc: TestService, accountSid: string): Promise<number> {
  const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [accountSid]);
  return rows[0].n;
}

/** The bytes behind a media URL, followed with the account's credentials. */
async function bytesOf(account: TestAccount, media: MediaJson): Promise<Buffer> {
  const res = await getMediaUrl(media.url, { headers: { Authorization: account.basic } });
  expect(res.status).toBe(302);
  return Buffer.from(await (await fetch(res.headers.get('location')!)).arrayBuffer());
}

let svc: TestService;
let work: string;
beforeAll(async () => {
  svc = await service();
  work = await mkdtemp(path.join(tmpdir(), 'mg-uploads-'));
});

describe('POST …/media with multipart/form-data', () => {
  const bytes = randomBytes(5000);
  const uploadsUrl = (account: TestAccount, query = '') => `${svc.baseUrl}/v1/accounts/${account.sid}/media?kind=message${query}`;

  it('stores the one file of curl -F, byte for byte, with its name and type', async () => {
    const account = await newAccount(svc.db);
    const file = path.join(work, 'cat.jpg');
    await writeFile(file, bytes);
    const r = await runProcess('curl', ['-s', '-u', `${account.sid}:${account.authToken}`, '-F', `file=@${file};type=image/jpeg`, uploadsUrl(account)]);
    const media = JSON.parse(r.stdout) as MediaJson;
    expect(media).toMatchObject({ filename: 'cat.jpg', content_type: 'image/jpeg', size_bytes: bytes.length, sha256: sha256(bytes) });
    expect((await bytesOf(account, media)).equals(bytes)).toBe(true);
    // ?filename= wins over the part's.
    const named = JSON.parse((await runProcess('curl', ['-s', '-u', `${account.sid}:${account.authToken}`, '-F', `file=@${file}`, uploadsUrl(account, '&filename=other.jpg')])).stdout) as MediaJson;
    expect(named.filename).toBe('other.jpg');
  });

  it("stores the file of Python's requests files= and of Node's FormData", async () => {
    const account = await newAccount(svc.db);
    const hasRequests = spawnSync('python3', ['-c', 'import requests']).status === 0;
    if (hasRequests) {
      const file = path.join(work, 'voice.wav');
      await writeFile(file, bytes);
      const script = [
        'import requests, sys',
        `r = requests.post(sys.argv[1], auth=(sys.argv[2], sys.argv[3]), files={"file": ("voice.wav", open(sys.argv[4], "rb"), "audio/wav")})`,
        'print(r.text)',
      ].join('\n');
      const r = await runProcess('python3', ['-c', script, uploadsUrl(account), account.sid, account.authToken, file]);
      expect(JSON.parse(r.stdout)).toMatchObject({ filename: 'voice.wav', content_type: 'audio/wav', sha256: sha256(bytes) });
    } else {
      console.warn("python3's requests module is missing: its multipart case skipped");
    }
    const form = new FormData();
    form.append('note', 'a text field is ignored');
    form.append('media', new Blob([bytes], { type: 'application/pdf' }), 'fax.pdf');
    const res = await fetch(uploadsUrl(account), { method: 'POST', headers: { Authorization: account.basic }, body: form });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ filename: 'fax.pdf', content_type: 'application/pdf', sha256: sha256(bytes) });
  });

  it('refuses a file one byte over the limit, a form cut short, and forms with no file or two, leaving no row and no object', async () => {
    const small = await service({ env: { MEDIA_MAX_BYTES: '1000' } });
    const account = await newAccount(small.db);
    const url = `${small.baseUrl}/v1/accounts/${account.sid}/media?kind=message`;
    const post = (form: FormData) => fetch(url, { method: 'POST', headers: { Authorization: account.basic }, body: form });
    const with_ = (...files: Buffer[]) => {
      const form = new FormData();
      files.forEach((f, i) => form.append(`f${i}`, new Blob([f]), `f${i}.bin`));
      return form;
    };
    expect((await post(with_(randomBytes(1000)))).status).toBe(201); // at the limit: stored
    const over = await post(with_(randomBytes(1001)));
    expect(over.status).toBe(413);
    const none = new FormData();
    none.append('just', 'text');
    expect((await post(none)).status).toBe(400);
    const two = await post(with_(randomBytes(10), randomBytes(10)));
    expect(two.status).toBe(400);
    expect(((await two.json()) as { error: { message: string } }).error.message).toContain('exactly one file part');
    // Cut short: the closing boundary never comes.
    const boundary = 'xyz';
    const cut = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${'a'.repeat(100)}`;
    const truncated = await fetch(url, { method: 'POST', headers: { Authorization: account.basic, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body: cut });
    expect(truncated.status).toBe(400);
    expect(await rowsOf(small, account.sid)).toBe(1);
    expect(await storedKeys(small, account.sid)).toHaveLength(1);
  });
});

describe('POST …/media with a form-encoded body or none of a type', () => {
  it('answers 415 saying to send the media type, and stores nothing', async () => {
    const account = await newAccount(svc.db);
    const expected = {
      error: {
        status: 415,
        code: 'unsupported_media_type',
        message: "send the media's own Content-Type, such as image/jpeg; with curl: -H 'Content-Type: image/jpeg' (or send a form with one file: curl -F file=@cat.jpg)",
      },
    };
    const file = path.join(work, 'raw.jpg');
    await writeFile(file, randomBytes(100));
    // What curl --data-binary sends without -H: application/x-www-form-urlencoded.
    const curl = await runProcess('curl', ['-s', '-u', `${account.sid}:${account.authToken}`, '--data-binary', `@${file}`, `${svc.baseUrl}/v1/accounts/${account.sid}/media?kind=message`]);
    expect(JSON.parse(curl.stdout)).toEqual(expected);
    const untyped = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media?kind=message`, {
      method: 'POST',
      headers: { Authorization: account.basic },
      body: new Uint8Array(randomBytes(100)), // fetch sends bytes without a Content-Type
    });
    expect(untyped.status).toBe(415);
    expect(await untyped.json()).toEqual(expected);
    expect(await rowsOf(svc, account.sid)).toBe(0);
  });
});

interface Started {
  upload_id: string;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expires_at: string;
}

async function start(s: TestService, account: TestAccount, body: Record<string, unknown>, auth?: string): Promise<Started> {
  const res = await accountApi(s, account, '/media/uploads', { method: 'POST', json: body, auth });
  if (res.status !== 201) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Started;
}
const complete = (s: TestService, account: TestAccount, uploadId: string, auth?: string) =>
  accountApi(s, account, `/media/uploads/${uploadId}/complete`, { method: 'POST', auth });
const put = (started: Started, body: Buffer, headers = started.headers) => fetch(started.url, { method: 'PUT', headers, body: new Uint8Array(body) });

describe.each(['s3', 'local'] as const)('direct uploads, %s store', (storeKind) => {
  let s: TestService;
  let account: TestAccount;
  beforeAll(async () => {
    s = await service({ storeKind });
    account = await newAccount(s.db);
  });

  it('PUTs the bytes straight to the store, then completes them into media; completing again answers the same media', async () => {
    const bytes = randomBytes(20_000);
    const started = await start(s, account, { kind: 'recording', content_type: 'audio/wav', size_bytes: bytes.length, filename: 'v.wav', sha256: sha256(bytes) });
    expect(started.upload_id).toMatch(/^UP[0-9a-f]{32}$/);
    expect(started.method).toBe('PUT');
    expect(started.headers).toMatchObject({ 'Content-Type': 'audio/wav', 'Content-Length': String(bytes.length) });
    expect(Date.parse(started.expires_at) - Date.now()).toBeGreaterThan(800_000); // UPLOAD_URL_TTL_SECONDS, 900
    // Before the PUT: nothing to complete.
    const early = await complete(s, account, started.upload_id);
    expect(early.status).toBe(409);
    expect((await put(started, bytes)).status).toBe(200);
    const done = await complete(s, account, started.upload_id);
    expect(done.status).toBe(201);
    const media = (await done.json()) as MediaJson;
    expect(media).toMatchObject({ kind: 'recording', content_type: 'audio/wav', size_bytes: bytes.length, filename: 'v.wav', sha256: sha256(bytes) });
    expect((await bytesOf(account, media)).equals(bytes)).toBe(true);
    const again = await complete(s, account, started.upload_id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as MediaJson).sid).toBe(media.sid);
  });

  it('completes once when completions race: one 201, the rest 200 with the same media, one event', async () => {
    const bytes = randomBytes(5000);
    const started = await start(s, account, { kind: 'message', content_type: 'image/png', size_bytes: bytes.length });
    expect((await put(started, bytes)).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 6 }, () => complete(s, account, started.upload_id)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 201]);
    const sids = new Set(await Promise.all(answers.map(async (r) => ((await r.json()) as MediaJson).sid)));
    expect(sids.size).toBe(1);
    const { rows } = await s.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM account_events WHERE type = 'upload.completed' AND detail->>'upload_id' = $1",
      [started.upload_id],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('refuses an object that does not match with 409, removes it, and creates nothing', async () => {
    const bytes = randomBytes(1000);
    const started = await start(s, account, { kind: 'message', content_type: 'image/png', size_bytes: bytes.length, sha256: sha256(bytes) });
    // Other bytes of the same size and type, where the store does not check a checksum itself.
    const other = randomBytes(1000);
    const putOther = await put(started, other);
    if (putOther.status !== 200) return; // the store refused them itself: as good
    const res = await complete(s, account, started.upload_id);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('sha256');
    const { rows } = await s.db.query('SELECT count(*)::int AS n FROM media WHERE sid = (SELECT media_sid FROM uploads WHERE upload_id = $1)', [started.upload_id]);
    expect(rows[0].n).toBe(0);
    expect((await storedKeys(s, account.sid)).filter((k) => k.endsWith(started.url.split('?')[0]!.split('/').pop()!))).toEqual([]);
  });

  it('protects an upload begun while its kind was public and completed after the switch went on', async () => {
    const owner = await newAccount(s.db);
    const bytes = randomBytes(100);
    const started = await start(s, owner, { kind: 'fax', content_type: 'application/pdf', size_bytes: bytes.length });
    await put(started, bytes);
    await setProtection(s, owner, { fax: true });
    const media = (await (await complete(s, owner, started.upload_id)).json()) as MediaJson;
    expect(media.requires_auth).toBe(true);
    expect(media.sha256).toBeNull(); // no sha256 declared: the service never saw the bytes
    expect((await getMediaUrl(media.url)).status).toBe(401);
  });

  it("binds the media to the upload's application, and lets only it (or no application) complete it", async () => {
    const owner = await newAccount(s.db);
    const a = await registerApplication(s, owner);
    const b = await registerApplication(s, owner);
    const bytes = randomBytes(100);
    const started = await start(s, owner, { kind: 'message', content_type: 'text/plain', size_bytes: bytes.length, application_id: a.id }, await bearerFor(a));
    await put(started, bytes);
    expect((await complete(s, owner, started.upload_id, await bearerFor(b))).status).toBe(403);
    const media = (await (await complete(s, owner, started.upload_id, await bearerFor(a))).json()) as MediaJson;
    expect(media.application_id).toBe(a.id);
    // An application starts uploads for itself only.
    const refused = await accountApi(s, owner, '/media/uploads', { method: 'POST', json: { kind: 'message', content_type: 'text/plain', size_bytes: 1, application_id: a.id }, auth: await bearerFor(b) });
    expect(refused.status).toBe(403);
  });
});

describe('the upload URL signs exactly one size and type', () => {
  it('on S3: Content-Length and Content-Type are signed headers, and the SigV4 signature holds only for them', async () => {
    const account = await newAccount(svc.db);
    const started = await start(svc, account, { kind: 'message', content_type: 'image/jpeg', size_bytes: 1234 });
    const url = new URL(started.url);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    const signed = { 'content-type': 'image/jpeg', 'content-length': '1234' };
    expect(signatureValid('PUT', started.url, S3_CREDENTIALS.secretAccessKey, signed)).toBe(true);
    expect(signatureValid('PUT', started.url, S3_CREDENTIALS.secretAccessKey, { ...signed, 'content-length': '1235' })).toBe(false);
    expect(signatureValid('PUT', started.url, S3_CREDENTIALS.secretAccessKey, { ...signed, 'content-type': 'text/html' })).toBe(false);
    // With a sha256, S3 checks the bytes too: its header is signed, not hoisted into the query.
    const withSum = await start(svc, account, { kind: 'message', content_type: 'image/jpeg', size_bytes: 3, sha256: sha256(Buffer.from('abc')) });
    expect(new URL(withSum.url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host;x-amz-checksum-sha256');
    expect(withSum.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update('abc').digest('base64'));
  });

  it('on the local store: a PUT of another length or type, an expired URL, or a second PUT is refused', async () => {
    let now = Date.now();
    const local = await service({ storeKind: 'local', clock: () => new Date(now) });
    const account = await newAccount(local.db);
    const bytes = randomBytes(100);
    const started = await start(local, account, { kind: 'message', content_type: 'image/png', size_bytes: 100 });
    expect((await put(started, bytes, { 'Content-Type': 'image/jpeg' })).status).toBe(403);
    expect((await put(started, randomBytes(101), { 'Content-Type': 'image/png' })).status).toBe(403);
    expect(await storedKeys(local, account.sid)).toEqual([]);
    const tampered = started.url.replace('len=100', 'len=101');
    expect((await fetch(tampered, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(randomBytes(101)) })).status).toBe(403);
    expect((await put(started, bytes, { 'Content-Type': 'image/png' })).status).toBe(200);
    expect((await put(started, bytes, { 'Content-Type': 'image/png' })).status).toBe(403); // one PUT
    const late = await start(local, account, { kind: 'message', content_type: 'image/png', size_bytes: 100 });
    now += 901_000;
    expect((await put(late, bytes, { 'Content-Type': 'image/png' })).status).toBe(403);
  });
});

describe('uploads never completed', () => {
  it('are removed by gc once their URL has expired, and not before', async () => {
    let now = Date.now();
    const clock = () => new Date(now);
    // A database of its own: gc on a moved clock would expire other tests' uploads in the shared one.
    const scratch = await createScratchDatabase();
    const pool = createPool(scratch.url);
    await migrate(pool);
    await pool.end();
    const local = await startService({ storeKind: 'local', clock, databaseUrl: scratch.url });
    try {
      const account = await newAccount(local.db);
      const bytes = randomBytes(50);
      const started = await start(local, account, { kind: 'message', content_type: 'text/plain', size_bytes: bytes.length });
      expect((await put(started, bytes, started.headers)).status).toBe(200);
      const gc = () => collectGarbage({ db: local.db, store: local.store, clock }, { graceSeconds: 3600 });
      expect((await gc())?.abandonedUploads).toBe(0);
      expect(await storedKeys(local, account.sid)).toHaveLength(1);
      now += 901_000; // the URL's 15 minutes are over; the object is still younger than gc's hour
      const report = await gc();
      expect(report?.abandonedUploads).toBe(1);
      expect(await storedKeys(local, account.sid)).toEqual([]);
      expect((await complete(local, account, started.upload_id)).status).toBe(404);
    } finally {
      await local.close();
      await scratch.drop();
    }
  });
});

describe('the owner of the media', () => {
  it('is the account whose credentials started the upload: another account is refused', async () => {
    const account = await newAccount(svc.db);
    const other = await newAccount(svc.db);
    const res = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media/uploads`, {
      method: 'POST',
      headers: { Authorization: basicAuth(other.sid, other.authToken), 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'message', content_type: 'text/plain', size_bytes: 1 }),
    });
    expect(res.status).toBe(403);
  });
});
