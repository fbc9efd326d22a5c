// The README's walkthrough, run as written (bash, curl, jq) against a service on the
// zero-config local store: a newcomer's first commands must work, with the outputs the
// comments promise.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BIN, ROOT, runProcess } from '../support/cli.js';
import { serviceForFile } from '../support/service.js';

const svc = serviceForFile({ storeKind: 'local' });
const work = mkdtemp(path.join(tmpdir(), 'mg-readme-'));
afterAll(async () => rm(await work, { recursive: true, force: true }));

/** The first ```sh block under "## Walkthrough". */
async function walkthrough(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Walkthrough'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md has no sh block under "## Walkthrough"');
  return block[1]!;
}

it('runs as written, with the answers its comments promise', async () => {
  const script = await walkthrough();
  expect(script).toMatch(/^BASE=http:\/\/127\.0\.0\.1:8080$/m);
  // Run in a scratch directory, not the checkout (the script writes files): there `npx
  // mediagate` would not find the checkout's bin, so it is the checkout's bin directly.
  const prelude = `set -euo pipefail\nnpx() { [ "$1" = mediagate ] && shift && node ${JSON.stringify(BIN)} "$@"; }\n`;
  const run = await runProcess('bash', ['-c', prelude + script.replace(/^BASE=.*$/m, `BASE=${svc.baseUrl}`)], {
    cwd: await work,
    env: { ...process.env, DATABASE_URL: svc.config.databaseUrl!, LOG_LEVEL: 'warn' },
    timeoutMillis: 60_000,
  });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines[0]).toBe('{"status":"ok"}');
  expect(run.stdout).toContain('"status": "ready"');
  expect(run.stdout).toMatch(/^\{"enabled":true,/m);
  expect(lines).toContain('401');
  expect(lines).toContain('same bytes');
  // The last line is the share link: it reads the protected image with no credentials, once.
  const shareUrl = lines.at(-1)!;
  expect(shareUrl).toMatch(new RegExp(`^${svc.baseUrl}/s/`));
  const shared = await fetch(shareUrl);
  expect(shared.status).toBe(200);
  expect(Buffer.from(await shared.arrayBuffer())).toEqual(await readFile(path.join(await work, 'dog.png')));
  expect((await fetch(shareUrl, { redirect: 'manual' })).status).toBe(404);
  // Both downloads sit beside the originals; nothing overwrote an upload.
  expect(await readFile(path.join(await work, 'cat-download.png'))).toEqual(await readFile(path.join(await work, 'cat.png')));
});
