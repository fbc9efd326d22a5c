#!/usr/bin/env node
// `npm test`: the whole suite (vitest run, arguments passed on), with every temporary
// file of the run, vitest's own included, under one directory that is removed at the
// end; then the proof that the machine's temporary directory holds what it held before.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const tmp = tmpdir();
const before = new Set(readdirSync(tmp));
// Short: Chromium's singleton socket lives below it, and socket paths hold 107 bytes.
const root = mkdtempSync(path.join(tmp, 'mg-run-'));
const vitest = path.join(import.meta.dirname, '../node_modules/vitest/vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  // s3rver 3 on Node 20 fails bucket listings past 1,000 objects without OpenSSL's legacy
  // provider (its continuation tokens use a cipher OpenSSL 3 moved there).
  env: { ...process.env, TMPDIR: root, NODE_OPTIONS: [process.env.NODE_OPTIONS, '--openssl-legacy-provider'].filter(Boolean).join(' ') },
});
rmSync(root, { recursive: true, force: true });
const left = readdirSync(tmp).filter((name) => !before.has(name));
if (left.length > 0) {
  process.stderr.write(`npm test: the run left ${left.length} entries in ${tmp}: ${left.join(', ')}\n`);
  process.exit(1);
}
process.stderr.write(`npm test: ${tmp} holds what it held before the run\n`);
process.exit(run.status ?? 1);
