import { Validator } from '@seriousme/openapi-schema-validator';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, apiTypesText } from '../../scripts/openapi-types.js';
import { parseConfig } from '../../src/config.js';
import { validateName } from '../../src/domain/accounts.js';
import { parseContentType, parseFilename } from '../../src/domain/media.js';
import { isDisplaySafe } from '../../src/domain/printable.js';
import { buildOpenApiDocument, referenceDocumentText } from '../../src/http/openapi.js';
import { CONTENT_TYPE_PATTERN, FILENAME_PATTERN, LABEL_PATTERN, NAME_PATTERN } from '../../src/http/schemas.js';
import { ContractChecker } from '../support/contract.js';

const root = path.resolve(import.meta.dirname, '../..');
const config = parseConfig({});
const document = buildOpenApiDocument(config);
const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

function operations(): { path: string; method: string; op: Record<string, unknown> }[] {
  return Object.entries(document.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => HTTP_METHODS.includes(m))
      .map(([method, op]) => ({ path: p, method, op })),
  );
}


describe('docs/openapi.json', () => {
  it('is what the code generates (run `npm run openapi` after changing a route or a schema)', async () => {
    const committed = await readFile(path.join(root, 'docs/openapi.json'), 'utf8');
    expect(committed === referenceDocumentText(), 'docs/openapi.json is stale: run `npm run openapi` and commit it').toBe(true);
  });

  it(`is current in the types the console and the tests import too (${API_TYPES_FILE})`, async () => {
    const committed = await readFile(path.join(root, API_TYPES_FILE), 'utf8');
    const generated = await apiTypesText(JSON.parse(referenceDocumentText()) as object);
    expect(committed === generated, `${API_TYPES_FILE} is stale: run \`npm run openapi\` and commit it`).toBe(true);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(document));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
  });

  it('names PUBLIC_BASE_URL as its server', () => {
    const doc = buildOpenApiDocument(parseConfig({ PUBLIC_BASE_URL: 'https://media.example.com' }));
    expect(doc.servers).toEqual([{ url: 'https://media.example.com', description: 'PUBLIC_BASE_URL' }]);
  });

  it('describes every operation and parameter, and names each operation once', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path: p, method, op } of operations()) {
      expect(op.summary, `${method} ${p}`).toBeTruthy();
      expect(op.tags, `${method} ${p}`).toHaveLength(1);
      for (const parameter of (op.parameters as Record<string, unknown>[] | undefined) ?? []) {
        if (parameter.$ref || parameter.in !== 'query') continue;
        expect(parameter.description, `${method} ${p} ?${String(parameter.name)}`).toBeTruthy();
      }
    }
  });

  it('takes request schemas from the routes: the media URL allows expires_in up to MEDIA_URL_TTL_SECONDS', () => {
    const doc = buildOpenApiDocument(parseConfig({ MEDIA_URL_TTL_SECONDS: '600' }));
    const params = doc.paths['/v1/accounts/{AccountSid}/media/{MediaSid}']!.get!.parameters as { name: string; description?: string }[];
    expect(params.find((p) => p.name === 'expires_in')?.description).toContain('60 to 600');
    const patch = doc.paths['/v1/accounts/{AccountSid}/settings/retention']!.patch!.requestBody as {
      content: Record<string, { schema: unknown }>;
    };
    expect(patch.content['application/json']!.schema).toEqual({
      type: 'object',
      properties: { days: { anyOf: [{ type: 'integer', minimum: 1, maximum: 36500 }, { type: 'null' }] } },
      required: ['days'],
      additionalProperties: false,
    });
  });
});

describe('what the document says the service enforces', () => {
  const parameter = (p: string, method: string, name: string) =>
    ((document.paths[p]![method]!.parameters as { name?: string; schema?: unknown }[]).find((q) => q.name === name) ?? {}).schema;

  it("carries package.json's version", async () => {
    const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect((document.info as { version: string }).version).toBe(version);
  });

  it('describes page_size and expires_in by the numbers they become, not the digits they arrive as', () => {
    const lists = operations().filter(({ op }) => ((op.parameters as { name?: string }[] | undefined) ?? []).some((q) => q.name === 'page_size'));
    expect(lists.map(({ op }) => op.operationId).sort()).toEqual(['listApiKeys', 'listApplications', 'listEvents', 'listMedia', 'listMediaShareLinks', 'listShareLinks']);
    for (const { path: p, method } of lists) {
      expect(parameter(p, method, 'page_size'), `${method} ${p}`).toEqual({ type: 'integer', minimum: 1, maximum: 1000, default: 50 });
    }
    expect(parameter('/v1/accounts/{AccountSid}/media/{MediaSid}', 'get', 'expires_in')).toEqual({ type: 'integer', minimum: 60, maximum: 14400 });
  });

  it('declares 431 on every operation, without the X-Request-Id a request refused before the app never gets', () => {
    for (const { path: p, method, op } of operations()) {
      expect((op.responses as Record<string, unknown>)['431'], `${method} ${p}`).toEqual({ $ref: '#/components/responses/Error431' });
    }
    const error431 = (document.components.responses as Record<string, { headers: Record<string, unknown> }>).Error431!;
    expect(Object.keys(error431.headers)).toEqual(['X-Content-Type-Options']);
  });

  // Each pattern against the domain's own check, on the same strings (within the length
  // limits, which JSON Schema counts in characters and the domain in UTF-16 code units).
  const samples = [
    'a.jpg', '  a.jpg\t', 'a b', 'é', '😀', '', ' ', '\t', '.', '..', ' .. ', '...', 'a/b.jpg', 'dir\\x.png', 'a/', 'a/ ', 'a/..', '/',
    'a\u0000/b.jpg', 'x\u202Ey', 'na\tme', '\tname\n', 'a\u2028', '\u2028a', '\uFEFFa', 'a\u200Bb', 'a\u00A0', '\u0085a', 'x'.repeat(200),
  ];
  const matches = (pattern: string, value: string) => new RegExp(pattern, 'u').test(value);
  const accepts = (check: () => unknown) => {
    try {
      check();
      return true;
    } catch {
      return false;
    }
  };

  it('says of names, labels and file names exactly what the domain checks', () => {
    for (const value of samples) {
      expect(matches(NAME_PATTERN, value), `name ${JSON.stringify(value)}`).toBe(accepts(() => validateName(value)));
      const label = value.trim();
      expect(matches(LABEL_PATTERN, value), `label ${JSON.stringify(value)}`).toBe(label === '' || isDisplaySafe(label));
      expect(matches(FILENAME_PATTERN, value), `filename ${JSON.stringify(value)}`).toBe(accepts(() => parseFilename(value)));
    }
  });

  it('says of content types exactly what the domain checks', () => {
    const types = ['image/jpeg', ' image/png ', 'text/plain; charset=utf-8', 'text/plain;charset="a b"', 'a/b;c=""', 'a/b;c="\u0001"', 'a/b;c="\\"',
      'text', '/', 'a/', 'a/b c', 'a/b;', 'a/b; c', 'a/b; c=d e', 'vnd.x+json/y.z-1', 'a/b;c=d;e="f"', ' ', 'é/b'];
    for (const value of types) {
      expect(matches(CONTENT_TYPE_PATTERN, value), JSON.stringify(value)).toBe(accepts(() => parseContentType(value)));
    }
  });
});

describe('the contract check of test responses (test/support/contract.ts)', () => {
  const checker = new ContractChecker(document);
  const base = 'http://127.0.0.1:9';
  const common = { 'X-Request-Id': 'r-1', 'X-Content-Type-Options': 'nosniff' };
  const request = (method: string, p: string, headers: Record<string, string> = {}) => ({ method, url: `${base}${p}`, headers: new Headers(headers) });
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...common, ...headers } });
  const mediaUrl = '/v1/accounts/AC0123456789abcdef0123456789abcdef/media/ME0123456789abcdef0123456789abcdef';
  const unauthorized = { error: { status: 401, code: 'unauthorized', message: 'valid credentials are required' } };

  it('accepts an answer that keeps the contract', async () => {
    const res = json(401, unauthorized, { 'WWW-Authenticate': 'Basic realm="mediagate"' });
    expect(await checker.problemsOf(request('GET', mediaUrl), res)).toEqual([]);
  });

  it('reports an undeclared status, a missing header and a body off its schema', async () => {
    expect(await checker.problemsOf(request('GET', '/healthz'), json(418, {}))).toEqual([expect.stringContaining('status 418 is not declared')]);
    expect(await checker.problemsOf(request('GET', mediaUrl), json(401, unauthorized))).toEqual(['header WWW-Authenticate is missing']);
    const wrong = json(401, { error: { status: 401, code: 'forbidden', message: 'x' } }, { 'WWW-Authenticate': 'Basic realm="mediagate"' });
    expect(await checker.problemsOf(request('GET', mediaUrl), wrong)).toEqual([expect.stringContaining('/error/code must be equal to constant')]);
    const extra = json(200, { status: 'ok', uptime: 3 });
    expect(await checker.problemsOf(request('GET', '/healthz'), extra)).toEqual([expect.stringContaining('must NOT have additional properties (uptime)')]);
  });

  it("excuses the Basic challenge for the console's own calls, as documented", async () => {
    const res = json(401, unauthorized);
    expect(await checker.problemsOf(request('GET', mediaUrl, { 'X-CSRF-Token': 't' }), res)).toEqual([]);
  });

  it("tells the media URL's JSON answer (?redirect=false) from proxied bytes that happen to be JSON", async () => {
    const bytes = () => json(200, { any: 'thing' }, { 'Cache-Control': 'private, no-store', ETag: '"x"', 'Accept-Ranges': 'bytes' });
    expect(await checker.problemsOf(request('GET', mediaUrl), bytes())).toEqual([]);
    expect(await checker.problemsOf(request('GET', `${mediaUrl}?redirect=false`), bytes())).toEqual([
      expect.stringContaining("must have required property 'url'"),
    ]);
  });

  it('leaves alone what the document does not name: other servers, other paths', async () => {
    expect(await checker.problemsOf(request('GET', '/mediagate-test/AC0/ME0'), json(403, {}))).toEqual([]);
    expect(await checker.problemsOf({ ...request('GET', '/healthz'), url: 'https://example.com/healthz' }, json(418, {}))).toEqual([]);
  });

  it('holds another method on a documented path to the rules of every answer: common headers, the JSON error', async () => {
    const error405 = { error: { status: 405, code: 'method_not_allowed', message: 'Method Not Allowed' } };
    expect(await checker.problemsOf(request('PUT', '/healthz'), json(405, error405, { Allow: 'GET, HEAD' }))).toEqual([]);
    expect(await checker.problemsOf(request('PUT', '/healthz'), json(405, {}))).toEqual([expect.stringContaining('the body is not {"error"')]);
    expect(await checker.problemsOf(request('OPTIONS', '/healthz'), new Response(null, { status: 200 }))).toEqual([
      'header X-Request-Id is missing',
      'header X-Content-Type-Options is missing',
    ]);
  });

  it('holds a HEAD to what the GET of that path declares', async () => {
    expect(await checker.problemsOf(request('HEAD', '/healthz'), new Response(null, { status: 200, headers: common }))).toEqual([]);
    expect(await checker.problemsOf(request('HEAD', '/healthz'), new Response(null, { status: 404, headers: common }))).toEqual([
      expect.stringContaining('status 404 is not declared'),
    ]);
  });
});
