import { describe, expect, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { newAccount, setProtection, serviceForFile, type TestAccount } from '../support/service.js';

const svc = serviceForFile();

const api = (a: TestAccount, path: string, init: Parameters<typeof accountApi>[3] = {}) => accountApi(svc, a, path, init);

describe('events', () => {
  it('are newest first by number, across digit boundaries, and pages lose nothing', async () => {
    const a = await newAccount(svc.db);
    for (let i = 0; i < 12; i++) await setProtection(svc, a, { fax: i % 2 === 0 });
    const all = (await (await api(a, '/events?page_size=100')).json()) as { events: { id: string }[] };
    const ids = all.events.map((e) => BigInt(e.id));
    expect(ids).toHaveLength(12);
    for (let i = 1; i < ids.length; i++) expect(ids[i - 1]! > ids[i]!).toBe(true);
    const paged: string[] = [];
    let token: string | null = null;
    do {
      const page = (await (await api(a, `/events?page_size=5${token ? `&page_token=${token}` : ''}`)).json()) as {
        events: { id: string }[];
        next_page_token: string | null;
      };
      paged.push(...page.events.map((e) => e.id));
      token = page.next_page_token;
    } while (token);
    expect(paged).toEqual(all.events.map((e) => e.id));
  });
});
