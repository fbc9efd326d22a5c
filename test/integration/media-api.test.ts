import { describe, expect, it } from 'vitest';
import {
  getMediaUrl,
  newAccount,
  serviceForFile,
  uploadJson,
  type MediaJson,
  type TestAccount,
  objectExists,
} from '../support/service.js';

const svc = serviceForFile();

const get = (a: TestAccount, path: string) =>
  fetch(`${svc.baseUrl}/v1/accounts/${a.sid}${path}`, { headers: { Authorization: a.basic } });

describe('GET /v1/accounts/:account/media/:media.json', () => {
  it('returns the metadata of the contract', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'hello', { contentType: 'text/plain', filename: 'h.txt' });
    const res = await get(a, `/media/${m.sid}.json`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as MediaJson;
    expect(Object.keys(body).sort()).toEqual(
      [
        'sid', 'account_sid', 'kind', 'content_type', 'size_bytes', 'sha256', 'filename',
        'created_at', 'requires_auth', 'url', 'application_id',
      ].sort(),
    );
    expect(body).toEqual(m);
  });

  it('answers 401 without credentials even for public media, 404 for unknown media', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    expect((await fetch(`${m.url}.json`)).status).toBe(401);
    expect((await get(a, `/media/ME${'a'.repeat(32)}.json`)).status).toBe(404);
  });
});

describe('GET /v1/accounts/:account/media', () => {
  it('lists newest first, page by page with an opaque token, filtered by kind', async () => {
    const a = await newAccount(svc.db);
    const made: MediaJson[] = [];
    for (let i = 0; i < 7; i++) made.push(await uploadJson(svc, a, `m${i}`, { kind: i % 2 ? 'fax' : 'message' }));
    const newestFirst = [...made].reverse().map((m) => m.sid);

    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res = await get(a, `/media?page_size=3${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { media: MediaJson[]; next_page_token: string | null };
      seen.push(...body.media.map((m) => m.sid));
      token = body.next_page_token;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst);

    const faxes = (await (await get(a, '/media?kind=fax')).json()) as { media: MediaJson[]; next_page_token: null };
    expect(faxes.media.map((m) => m.sid)).toEqual(newestFirst.filter((sid) => made.find((m) => m.sid === sid)!.kind === 'fax'));
    expect(faxes.next_page_token).toBeNull();
  });

  it('keeps pages stable when media is added while paging (keyset, not OFFSET)', async () => {
    const a = await newAccount(svc.db);
    for (let i = 0; i < 4; i++) await uploadJson(svc, a, `m${i}`);
    const first = (await (await get(a, '/media?page_size=2')).json()) as { media: MediaJson[]; next_page_token: string };
    await uploadJson(svc, a, 'newer');
    const second = (await (await get(a, `/media?page_size=2&page_token=${first.next_page_token}`)).json()) as {
      media: MediaJson[];
    };
    const all = (await (await get(a, '/media?page_size=10')).json()) as { media: MediaJson[] };
    expect(second.media.map((m) => m.sid)).toEqual(all.media.slice(3, 5).map((m) => m.sid));
  });

  it.each(['0', '1001', '-1', 'abc', '1.5'])('answers 400 for page_size=%s', async (size) => {
    const a = await newAccount(svc.db);
    const res = await get(a, `/media?page_size=${size}`);
    expect(res.status).toBe(400);
  });

  it.each(['garbage', 'W10', Buffer.from('["x","y"]').toString('base64url')])('answers 400 for page_token=%s', async (t) => {
    const a = await newAccount(svc.db);
    expect((await get(a, `/media?page_token=${t}`)).status).toBe(400);
  });

  it('accepts page_size 1 and 1000, and answers 400 for an unknown kind', async () => {
    const a = await newAccount(svc.db);
    expect((await get(a, '/media?page_size=1')).status).toBe(200);
    expect((await get(a, '/media?page_size=1000')).status).toBe(200);
    expect((await get(a, '/media?kind=video')).status).toBe(400);
  });
});

describe('DELETE /v1/accounts/:account/media/:media', () => {
  it('answers 204, removes the object from the store, and the URL answers 404', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'bye');
    const location = (await getMediaUrl(m.url)).headers.get('location')!;
    expect((await fetch(location)).status).toBe(200);

    const res = await fetch(m.url, { method: 'DELETE', headers: { Authorization: a.basic } });
    expect(res.status).toBe(204);
    expect((await getMediaUrl(m.url)).status).toBe(404);
    expect((await get(a, `/media/${m.sid}.json`)).status).toBe(404);
    expect(await objectExists(svc.store, `${a.sid}/${m.sid}`)).toBe(false);
    const gone = await fetch(location);
    expect(gone.status).toBe(404);
    await gone.arrayBuffer();

    const again = await fetch(m.url, { method: 'DELETE', headers: { Authorization: a.basic } });
    expect(again.status).toBe(404);
  });

  it('needs the account credentials', async () => {
    const a = await newAccount(svc.db);
    const b = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    expect((await fetch(m.url, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: b.basic } })).status).toBe(403);
    expect((await getMediaUrl(m.url)).status).toBe(302);
  });
});

describe('routing', () => {
  it('answers unknown routes with a JSON 404 and wrong methods with a JSON 405', async () => {
    const notFound = await fetch(`${svc.baseUrl}/nope`);
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const a = await newAccount(svc.db);
    const wrong = await fetch(`${svc.baseUrl}/v1/accounts/${a.sid}/settings/media-protection`, { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});
