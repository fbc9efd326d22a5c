import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('docs/operations.md', () => {
  it('shows deploy/nginx.conf, the configuration the fleet test runs, as it is', async () => {
    const docs = await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8');
    const shown = /```nginx\n([^]*?)```/.exec(docs)?.[1];
    expect(shown).toBe(await readFile(path.join(ROOT, 'deploy/nginx.conf'), 'utf8'));
  });
});
