// Media uploaded with an application_id answers to that application's JWTs only.
import { describe, expect, it } from 'vitest';
import { accountApi, bearerFor, registerApplication } from '../support/credentials.js';
import { getMediaUrl, newAccount, serviceForFile, uploadJson } from '../support/service.js';

const svc = serviceForFile();

describe('media bound to an application', () => {
  it("refuses another application's JWT on metadata and DELETE, and leaves it out of that application's list", async () => {
    const a = await newAccount(svc.db);
    const owner = await registerApplication(svc, a);
    const other = await registerApplication(svc, a);
    const m = await uploadJson(svc, a, 'x', { applicationId: owner.id });
    const free = await uploadJson(svc, a, 'y');
    const otherAuth = await bearerFor(other);
    expect((await fetch(`${m.url}.json`, { headers: { Authorization: otherAuth } })).status).toBe(403);
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: otherAuth } })).status).toBe(403);
    const listed = (await (await accountApi(svc, a, '/media', { auth: otherAuth })).json()) as { media: { sid: string }[] };
    expect(listed.media.map((x) => x.sid)).toEqual([free.sid]);
    const ownerAuth = await bearerFor(owner);
    expect((await fetch(`${m.url}.json`, { headers: { Authorization: ownerAuth } })).status).toBe(200);
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: ownerAuth } })).status).toBe(204);
  });

  it('refuses a JWT whose exp is not after its iat', async () => {
    const a = await newAccount(svc.db);
    const application = await registerApplication(svc, a);
    const m = await uploadJson(svc, a, 'x');
    const now = Math.floor(Date.now() / 1000);
    const token = await bearerFor(application, { iat: now, exp: now - 1 });
    expect((await getMediaUrl(m.url, { headers: { Authorization: token } })).status).toBe(401);
  });
});
