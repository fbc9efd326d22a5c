// deploy/alerts.yml: its rules pass promtool's own unit tests (deploy/alerts.test.yml),
// and every series those tests feed is one a real /metrics scrape carries, with the
// same labels: a renamed metric cannot leave the alerts silently watching nothing.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runProcess } from '../support/cli.js';
import { newAccount, serviceForFile, upload } from '../support/service.js';

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const DEPLOY = path.join(ROOT, 'deploy');

const svc = serviceForFile({ storeKind: 'local' });

/** name → label names, of every series deploy/alerts.test.yml feeds (job and instance are Prometheus's own). */
async function fedSeries(): Promise<Map<string, Set<string>>> {
  const text = await readFile(path.join(DEPLOY, 'alerts.test.yml'), 'utf8');
  const fed = new Map<string, Set<string>>();
  for (const [, name, labels] of text.matchAll(/- series: '([a-z_]+)\{([^}]*)\}'/g)) {
    const names = [...labels!.matchAll(/([a-z_]+)=/g)].map((m) => m[1]!).filter((l) => l !== 'job' && l !== 'instance');
    fed.set(name!, new Set([...(fed.get(name!) ?? []), ...names]));
  }
  return fed;
}

describe('deploy/alerts.yml', () => {
  it.skipIf(PROMTOOL === undefined)('passes promtool check rules and its unit tests', async () => {
    const check = await runProcess(PROMTOOL!, ['check', 'rules', 'alerts.yml'], { cwd: DEPLOY });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const test = await runProcess(PROMTOOL!, ['test', 'rules', 'alerts.test.yml'], { cwd: DEPLOY });
    expect(test.code, test.stdout + test.stderr).toBe(0);
  });

  it('is tested on series named and labelled as /metrics names them', async () => {
    // Make every series appear: a request, a failed authentication, a store failure.
    const account = await newAccount(svc.db);
    await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media`, { headers: { Authorization: 'Basic eDp5' } });
    const tmp = path.join(svc.config.dataDir, 'objects', '.tmp');
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'in the way');
    expect((await upload(svc, account, 'x', { contentType: 'text/plain' })).status).toBe(503);
    const scrape = await (await fetch(`${svc.baseUrl}/metrics`)).text();

    const fed = await fedSeries();
    expect(fed.size).toBeGreaterThan(4);
    const rules = await readFile(path.join(DEPLOY, 'alerts.yml'), 'utf8');
    for (const name of new Set(rules.match(/mediagate_[a-z_]+/g))) expect(fed.has(name), `${name} is used by a rule but fed by no test`).toBe(true);
    for (const [name, labels] of fed) {
      if (name === 'up') continue; // Prometheus's own
      const samples = scrape.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      expect(samples.length, `${name} is not in a /metrics scrape`).toBeGreaterThan(0);
      for (const label of labels) expect(samples.some((l) => l.includes(`${label}="`)), `${name} has no label ${label}`).toBe(true);
    }
  });
});
