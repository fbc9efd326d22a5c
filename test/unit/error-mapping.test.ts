import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Conflict,
  Forbidden,
  InvalidCredentials,
  InvalidRequest,
  MediaNotFound,
  PayloadTooLarge,
  ServiceUnavailable,
  TooManyRequests,
} from '../../src/domain/errors.js';
import { answerError, WWW_AUTHENTICATE } from '../../src/http/errors.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';

// The one place where errors become HTTP answers, driven by throwing each kind of error.
const throwers: Record<string, () => never> = {
  invalid: () => { throw new InvalidRequest('bad kind'); },
  credentials: () => { throw new InvalidCredentials(); },
  forbidden: () => { throw new Forbidden('not yours'); },
  missing: () => { throw new MediaNotFound(); },
  conflict: () => { throw new Conflict('nothing to promote'); },
  large: () => { throw new PayloadTooLarge(10); },
  throttled: () => { throw new TooManyRequests(42); },
  unavailable: () => { throw new ServiceUnavailable('the object store is unavailable'); },
  pgdown: () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }); },
  pgdata: () => { throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }); },
  bug: () => { throw new TypeError('secret internal detail'); },
};

let base: string;
const server = createServer();
beforeAll(async () => {
  const app = new Koa();
  app.silent = true;
  const deps = { log: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }) };
  app.use((ctx) => {
    try {
      const thrower = throwers[ctx.path.slice(1)];
      if (!thrower) throw new MediaNotFound();
      thrower();
    } catch (err) {
      answerError(ctx, err, deps, WWW_AUTHENTICATE);
    }
  });
  server.on('request', app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe('answerError, the one error mapping', () => {
  it.each([
    ['invalid', 400, 'invalid_request', 'bad kind'],
    ['credentials', 401, 'unauthorized', 'valid credentials are required'],
    ['forbidden', 403, 'forbidden', 'not yours'],
    ['missing', 404, 'not_found', 'no such media'],
    ['conflict', 409, 'conflict', 'nothing to promote'],
    ['large', 413, 'payload_too_large', 'the body exceeds the limit of 10 bytes'],
    ['throttled', 429, 'too_many_requests', expect.any(String)],
    ['unavailable', 503, 'service_unavailable', 'the object store is unavailable'],
    ['pgdown', 503, 'service_unavailable', 'the database is unavailable'],
    ['pgdata', 400, 'invalid_request', expect.any(String)],
    ['bug', 500, 'internal_error', 'Internal Server Error'],
    ['nothing-here', 404, 'not_found', 'no such media'],
  ])('maps %s to %i %s', async (path, status, code, message) => {
    const res = await fetch(`${base}/${path}`);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: { status, code, message } });
  });

  it('adds WWW-Authenticate to 401 and Retry-After to 429 and 503', async () => {
    expect((await fetch(`${base}/credentials`)).headers.get('www-authenticate')).toBe('Basic realm="mediagate"');
    expect((await fetch(`${base}/throttled`)).headers.get('retry-after')).toBe('42');
    expect((await fetch(`${base}/pgdown`)).headers.get('retry-after')).toBe('5');
  });

  it('never shows an unexpected error to the client', async () => {
    expect(await (await fetch(`${base}/bug`)).text()).not.toContain('secret internal detail');
  });
});
