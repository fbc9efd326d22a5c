// Every JavaScript MIME type of the WHATWG MIME Sniffing standard (§ 4.6) is served as
// an attachment on every delivery: a browser would run any of them inline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JAVASCRIPT_TYPES } from '../../src/domain/content-disposition.js';
import { getMediaUrl, newAccount, startService, uploadJson, type TestService } from '../support/service.js';

// Written out rather than imported for the check itself: the list the standard names.
const WHATWG_JAVASCRIPT_TYPES = [
  'application/ecmascript',
  'application/javascript',
  'application/x-ecmascript',
  'application/x-javascript',
  'text/ecmascript',
  'text/javascript',
  'text/javascript1.0',
  'text/javascript1.1',
  'text/javascript1.2',
  'text/javascript1.3',
  'text/javascript1.4',
  'text/javascript1.5',
  'text/jscript',
  'text/livescript',
  'text/x-ecmascript',
  'text/x-javascript',
];

const services: Record<string, TestService> = {};
beforeAll(async () => {
  [services.local, services.s3, services.proxy] = await Promise.all([
    startService({ storeKind: 'local' }),
    startService(),
    startService({ env: { MEDIA_DELIVERY: 'proxy' } }),
  ]);
});
afterAll(() => Promise.all(Object.values(services).map((s) => s.close())));

it('the service judges exactly the standard list as script', () => {
  expect([...JAVASCRIPT_TYPES].sort()).toEqual([...WHATWG_JAVASCRIPT_TYPES].sort());
});

describe.each(['local', 's3', 'proxy'])('delivered by %s', (mode) => {
  it.each(WHATWG_JAVASCRIPT_TYPES)('serves %s as an attachment', async (type) => {
    const svc = services[mode]!;
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'alert(document.domain)', { contentType: type, filename: 'x.js' });
    const first = await getMediaUrl(m.url);
    // Redirects lead to the store, which answers with the disposition the URL was signed for.
    const res = mode === 'proxy' ? first : await fetch(first.headers.get('location')!);
    expect([first.status, res.status]).toEqual([mode === 'proxy' ? 200 : 302, 200]);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="x\.js"/);
    expect(await res.text()).toBe('alert(document.domain)');
  });
});
