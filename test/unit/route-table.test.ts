// The route table (src/http/route.ts): exact matching, HEAD by GET, 405's methods, and
// the memory of recent paths, which must answer exactly as a fresh match would.
import { describe, expect, it } from 'vitest';
import { RouteTable, route, type Method } from '../../src/http/route.js';

const noop = () => undefined;
const r = (method: Method, path: string) => route({ method, path, operationId: `${method} ${path}`, tag: 't', summary: 's', auth: 'none', answers: {}, handle: noop });

function table() {
  return new RouteTable<string>().add('area', [
    r('GET', '/v1/accounts/{AccountSid}/media/{MediaSid}.json'),
    r('GET', '/v1/accounts/{AccountSid}/media/{MediaSid}'),
    r('DELETE', '/v1/accounts/{AccountSid}/media/{MediaSid}'),
    r('GET', '/v1/accounts/{AccountSid}/keys/{KeySid}'),
    r('GET', '/healthz'),
  ]);
}

/** What a lookup decides (entries carry functions of their own table). */
const shape = (l: ReturnType<RouteTable<string>['lookup']>) =>
  l.found === 'route' ? { found: l.found, route: l.entry.route.operationId, params: { ...l.params } } : l;

const MEDIA = '/v1/accounts/AC0123456789abcdef0123456789abcdef/media/ME0123456789abcdef0123456789abcdef';

describe('RouteTable', () => {
  it('answers a path it has seen exactly as it did the first time, for each method', () => {
    const t = table();
    const fresh = table();
    for (let i = 0; i < 3; i++) {
      for (const method of ['GET', 'HEAD', 'DELETE', 'PUT', 'POST']) {
        expect(shape(t.lookup(method, MEDIA))).toEqual(shape(fresh.lookup(method, MEDIA)));
      }
    }
    const get = t.lookup('GET', MEDIA);
    expect(get).toMatchObject({ found: 'route', params: { accountSid: 'AC0123456789abcdef0123456789abcdef', mediaSid: 'ME0123456789abcdef0123456789abcdef' } });
    expect(t.lookup('PUT', MEDIA)).toEqual({ found: 'path', area: 'area', allow: ['GET', 'HEAD', 'DELETE'] });
    expect(t.lookup('GET', `${MEDIA}.json`)).toMatchObject({ found: 'route', entry: { label: '/v1/accounts/:accountSid/media/:mediaSid.json' } });
  });

  it('shares the remembered parameters read-only', () => {
    const t = table();
    t.lookup('GET', MEDIA);
    const again = t.lookup('GET', MEDIA);
    expect(again.found === 'route' && Object.isFrozen(again.params)).toBe(true);
  });

  it('stays right past the memory’s size (it is emptied and refilled)', () => {
    const t = table();
    for (let i = 0; i < 25_000; i++) {
      const sid = `ME${i.toString(16).padStart(32, '0')}`;
      const found = t.lookup('GET', `/v1/accounts/AC0123456789abcdef0123456789abcdef/media/${sid}`);
      if (found.found !== 'route' || found.params.mediaSid !== sid) throw new Error(`path ${i} answered ${JSON.stringify(found)}`);
    }
    expect(t.lookup('GET', MEDIA)).toMatchObject({ found: 'route', params: { mediaSid: 'ME0123456789abcdef0123456789abcdef' } });
  });

  it('matches exactly: case, trailing slashes, unknown paths', () => {
    const t = table();
    expect(t.lookup('GET', MEDIA.toUpperCase()).found).toBe('nothing');
    expect(t.lookup('GET', `${MEDIA}/`).found).toBe('nothing');
    expect(t.lookup('GET', '/healthz/').found).toBe('nothing');
    expect(t.lookup('GET', '/healthz').found).toBe('route');
  });
});
