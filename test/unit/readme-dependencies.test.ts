// Every dependency earns its place: the README says why, one line each.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
/** The names in the first cell of the dependency table's rows (`@types/*` stands for every @types package). */
const named = new Set([...readme.matchAll(/^\| (?:dev: )?([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!)));

describe('README dependency table', () => {
  it.each([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)])('says why %s is there', (name) => {
    expect(named.has(name) || (name.startsWith('@types/') && named.has('@types/*'))).toBe(true);
  });
});
