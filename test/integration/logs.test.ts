import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, runCli } from '../support/cli.js';
import { spawnServe, type ServeProcess } from '../support/process.js';
import { basicAuth as basic } from '../support/service.js';

let serve: ServeProcess | undefined;
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
  await drop?.();
});

describe('logs', () => {
  it('write one JSON line per request and never a token, key secret, JWT or URL signature', async () => {
    const scratch = await createScratchDatabase();
    drop = scratch.drop;
    serve = await spawnServe({ DATABASE_URL: scratch.url, LOG_LEVEL: 'trace' });
    const base = serve.baseUrl;
    const secrets: string[] = [];
    const account = JSON.parse((await runCli(['accounts', 'create', '--name', 'logs'], { DATABASE_URL: scratch.url })).stdout) as {
      sid: string;
      auth_token: string;
    };
    secrets.push(account.auth_token);
    const owner = basic(account.sid, account.auth_token);
    secrets.push(owner.slice(6));
    const api = (path: string, init: RequestInit = {}, auth = owner) =>
      fetch(`${base}/v1/accounts/${account.sid}${path}`, {
        ...init,
        headers: { Authorization: auth, 'Content-Type': 'application/json', 'X-Request-Id': 'log-test-1' },
      });

    const key = (await (await api('/keys', { method: 'POST', body: '{"name":"k"}' })).json()) as { sid: string; secret: string };
    secrets.push(key.secret);
    const secondary = ((await (await api('/auth-tokens/secondary', { method: 'POST' })).json()) as { secondary_auth_token: string })
      .secondary_auth_token;
    secrets.push(secondary);
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const app = (await (
      await api('/applications', {
        method: 'POST',
        body: JSON.stringify({ name: 'a', public_key: publicKey.export({ type: 'spki', format: 'pem' }) }),
      })
    ).json()) as { application_id: string };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'EdDSA' })}.${b64({ application_id: app.application_id, iat: now, exp: now + 60, jti: randomUUID() })}`;
    const jwt = `${input}.${sign(null, Buffer.from(input), createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }))).toString('base64url')}`;
    secrets.push(jwt, jwt.split('.')[2]!);

    await api('/settings/media-protection', { method: 'PATCH', body: '{"message":true}' });
    const media = (await (await fetch(`${base}/v1/accounts/${account.sid}/media?kind=message`, { method: 'POST', headers: { Authorization: owner }, body: 'x' })).json()) as {
      url: string;
    };
    for (const auth of [owner, basic(key.sid, key.secret), basic(account.sid, secondary), `Bearer ${jwt}`]) {
      const res = await fetch(media.url, { redirect: 'manual', headers: { Authorization: auth } });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      secrets.push(location.searchParams.get('sig')!);
      expect((await fetch(location)).status).toBe(200);
    }
    const wrong = basic(account.sid, 'feedfacefeedfacefeedfacefeedface');
    secrets.push('feedfacefeedfacefeedfacefeedface', wrong.slice(6));
    expect((await fetch(media.url, { headers: { Authorization: wrong } })).status).toBe(401);
    expect((await fetch(`${base}/v1/accounts/${account.sid}/media?kind=nope`, { method: 'POST', headers: { Authorization: owner }, body: 'x' })).status).toBe(400);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const log = serve.stdout() + serve.stderr();
    for (const secret of secrets) expect(log.includes(secret), `a secret reached the log: ${secret.slice(0, 8)}…`).toBe(false);

    const lines = serve
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(10);
    const tagged = requests.find((l) => l.request_id === 'log-test-1')!;
    expect(tagged).toMatchObject({ route: expect.stringMatching(/^[a-z][A-Za-z]+$/), account: account.sid, status: expect.any(Number) });
    expect(typeof tagged.ms).toBe('number');
    const accesses = lines.filter((l) => l.route === 'getMediaUrl');
    expect(accesses.map((l) => l.outcome)).toEqual(['redirect_authenticated', 'redirect_authenticated', 'redirect_authenticated', 'redirect_authenticated', 'unauthorized']);
    // The account's own token is `token` (the account field names it); keys and applications by their ids; none sent: no field.
    expect(accesses.map((l) => l.credential)).toEqual(['token', key.sid, 'token', app.application_id, undefined]);
    expect(accesses[0]).toMatchObject({ account: account.sid, media: expect.stringMatching(/^ME/), client: expect.stringMatching(/127\.0\.0\.1/), status: 302 });
    // No field twice, and nothing of a path beyond its ids.
    for (const l of requests.filter((r) => r.route !== 'unmatched')) expect(Object.keys(l)).not.toContain('path');
    // One line per request: the access fields ride on the request line.
    expect(accesses.every((l) => l.msg === 'request')).toBe(true);
  }, 60_000);
});
