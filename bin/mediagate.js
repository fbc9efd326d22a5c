#!/usr/bin/env node
// The command runs the compiled code in dist/, which `npm install` builds (the
// `prepare` script) and `npm start` rebuilds; say so rather than crash if it is missing.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('mediagate: dist/ is missing; run `npm install` (or `npm run build`) in the checkout first\n');
  process.exit(1);
}
await import(entry.href);
