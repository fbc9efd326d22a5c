import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseConfig } from '../config.js';
import type { Area } from './area.js';
import { createAreas, type AreaConfig } from './areas.js';
import { CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import { ERRORS, WWW_AUTHENTICATE, type AnsweredCode } from './errors.js';
import { RouteTable, type Answer, type Route } from './route.js';
import { responseComponents } from './schemas.js';

// The service's API reference, OpenAPI 3.1: the frame is written here (info, tags,
// headers, security schemes, error answers from the one error table); every path comes
// from the routes' own declarations (route.ts), their query and body schemas converted
// by zod's own z.toJSONSchema, their answers from schemas.ts. A route and what the
// document says of it cannot differ.
//
// Two extensions tell the response check what plain OpenAPI cannot say:
// - `x-mediagate-when-query` on a media type: that body is answered only for that query
//   (the media URL's JSON form, `?redirect=false`); otherwise another form applies.
// - `x-mediagate-absent-when-request-header` on a header: not sent when the request
//   carried that header (no Basic challenge for the console's own calls).

export type OpenApiOptions = AreaConfig;

type Json = Record<string, unknown>;

export interface OpenApiDocument extends Json {
  openapi: string;
  paths: Record<string, Record<string, Json>>;
  components: Json & { schemas: Record<string, Json> };
}

const ref = (kind: 'schemas' | 'responses' | 'headers' | 'parameters', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** Leaves out what no reader needs: zod's own date-time and uuid regexes (the format says it), safe-integer bounds. */
function tidy({ jsonSchema }: { jsonSchema: unknown }): void {
  const s = jsonSchema as Json;
  if (s.format === 'date-time' || s.format === 'uuid') delete s.pattern;
  if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
  if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
}

/** A request schema as JSON Schema 2020-12: its input side, what a client sends (before preprocessing and transforms). */
function requestSchemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...converted } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', override: tidy }) as Json;
  return converted;
}

/** A request schema's output side: the values the route reads (a query's digits as the integer they become). */
function valueSchemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...converted } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', override: tidy, unrepresentable: 'any' }) as Json;
  return converted;
}

/**
 * The package's version, from package.json: two levels above this module both in src/http/
 * (tests) and in dist/http/ (the built and the installed package, which always ships it).
 */
function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return version;
}

// Every response carries these (app.ts).
const COMMON_HEADERS = { 'X-Request-Id': ref('headers', 'X-Request-Id'), 'X-Content-Type-Options': ref('headers', 'X-Content-Type-Options') };

// The headers answers name (`required`: every such answer carries it; the tests check).
const HEADERS: Record<string, Json> = {
  'X-Request-Id': {
    description: "The request's id in the service's logs: the request's own `X-Request-Id` when it sent a valid one (1 to 128 of `A-Za-z0-9._:-`), else a new one, unique across instances and restarts (a random per-process prefix and a counter, base 36).",
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
  'X-Content-Type-Options': { description: 'On every response.', required: true, schema: { type: 'string', const: 'nosniff' } },
  Location: { description: 'Where to go next.', required: true, schema: { type: 'string', format: 'uri' } },
  'WWW-Authenticate': {
    description: "The Basic challenge; not sent to the console's own calls (those carrying `X-CSRF-Token`), which must not make a browser prompt.",
    required: true,
    schema: { type: 'string', const: WWW_AUTHENTICATE },
    'x-mediagate-absent-when-request-header': CSRF_HEADER,
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
  Allow: {
    description: 'The methods the path takes (HEAD wherever GET is).',
    required: true,
    schema: { type: 'string', pattern: '^(GET|HEAD|POST|PUT|PATCH|DELETE)(, (GET|HEAD|POST|PUT|PATCH|DELETE))*$' },
  },
  'Cache-Control-Private': { description: 'Media URL answers are never cached by shared caches.', required: true, schema: { type: 'string', const: 'private, no-store' } },
  'Cache-Control-No-Store': { required: true, schema: { type: 'string', const: 'no-store' } },
  ETag: { description: 'A strong validator: stored objects never change.', required: true, schema: { type: 'string' } },
  'Accept-Ranges': { required: true, schema: { type: 'string', const: 'bytes' } },
  'Content-Range': { description: '`bytes {first}-{last}/{size}`', required: true, schema: { type: 'string', pattern: '^bytes \\d+-\\d+/\\d+$' } },
  'Content-Disposition': {
    description: '`attachment; filename="…"` with `?disposition=attachment`, and always for active types (HTML, SVG, XML, JavaScript, …).',
    required: false,
    schema: { type: 'string' },
  },
  'Content-Security-Policy-Sandbox': { description: 'Served bytes run nothing.', required: true, schema: { type: 'string', const: "sandbox; default-src 'none'" } },
  'Content-Security-Policy-Page': {
    description: "Scripts and styles only from the page's own asset path (`script-src {PUBLIC_BASE_URL}/console/assets/`), none inline; nothing else by default.",
    required: true,
    schema: { type: 'string', pattern: "^default-src 'none'; script-src \\S+/assets/; style-src \\S+/assets/;" },
  },
  'Access-Control-Allow-Origin-Any': { required: true, schema: { type: 'string', const: '*' } },
  'Set-Cookie-Session': { description: `\`${SESSION_COOKIE}\`: HttpOnly, SameSite=Strict (Secure when PUBLIC_BASE_URL is https).`, required: true, schema: { type: 'string' } },
};

/** A header of an answer: a name of HEADERS (with `?`: not on every such answer), or a header object. */
function headerOf(header: string | Json): Json {
  if (typeof header !== 'string') return header;
  if (header.endsWith('?')) return { ...HEADERS[header.slice(0, -1)], required: false };
  return ref('headers', header);
}

// What some errors carry besides the body.
const ERROR_HEADERS: Partial<Record<AnsweredCode, Json>> = {
  unauthorized: { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') },
  method_not_allowed: { Allow: ref('headers', 'Allow') },
  range_not_satisfiable: { 'Content-Range': { description: '`bytes */{size}`', required: true, schema: { type: 'string', pattern: '^bytes \\*/\\d+$' } } },
  too_many_requests: { 'Retry-After': ref('headers', 'Retry-After') },
  service_unavailable: { 'Retry-After': ref('headers', 'Retry-After') },
};

const errorResponseName = (code: AnsweredCode) => `Error${ERRORS[code].status}`;

// Refused by Node's HTTP parser before the request reaches the app (server.ts answers
// them with the JSON error): no X-Request-Id, and the connection closes.
const BEFORE_THE_APP: ReadonlySet<AnsweredCode> = new Set(['uri_too_long', 'request_header_fields_too_large']);
// What any request may be answered, whatever its route: headers (the request line
// included) over 16 KB.
const EVERY_ROUTE_ERRORS: readonly AnsweredCode[] = ['request_header_fields_too_large'];

// What the routes of each area may answer besides their own outcomes.
const AREA_ERRORS: Record<string, readonly AnsweredCode[]> = {
  api: ['unauthorized', 'forbidden', 'too_many_requests', 'service_unavailable'],
  'media-url': [],
  shared: [],
  blobs: [],
  console: [],
  ops: [],
};
// ... and those that read a JSON body (input.ts).
const JSON_BODY_ERRORS: readonly AnsweredCode[] = ['invalid_request', 'request_timeout', 'payload_too_large', 'unsupported_media_type'];

const SECURITY: Record<Route<unknown>['auth'], Json[]> = {
  none: [],
  optional: [{}, { basicAuth: [] }, { bearerJwt: [] }],
  account: [{ basicAuth: [] }, { bearerJwt: [] }, { consoleSession: [], consoleCsrf: [] }],
  owner: [{ basicAuth: [] }, { consoleSession: [], consoleCsrf: [] }],
};

const OWNER_NOTE = "Needs the account's auth token (`AccountSid:AuthToken`, or the console's session): API keys and application JWTs are answered 403.";

// The path parameters routes name, by their name in the path. A malformed id is no
// different from an unknown one: 404 (an account sid: 403 for credentials, whose account
// it is not, or 401 without them).
const unknownId = (what: string) => `any other value is ${what} that does not exist (404)`;
const PATH_PARAMETERS: Record<string, Json> = {
  AccountSid: {
    schema: { type: 'string', pattern: '^AC[0-9a-f]{32}$' },
    description:
      "the account. Credentials of any other account (a malformed sid included) are 403, decided before anything is looked up; in a blob URL, whose signature covers it, another value is 403",
    example: 'AC0123456789abcdef0123456789abcdef',
  },
  MediaSid: {
    schema: { type: 'string', pattern: '^ME[0-9a-f]{32}$' },
    description: `\`ME\` and 32 lowercase hex; ${unknownId('a media item')} (in a blob URL, whose signature covers it: 403)`,
    example: 'ME0123456789abcdef0123456789abcdef',
  },
  KeySid: { schema: { type: 'string', pattern: '^SK[0-9a-f]{32}$' }, description: `\`SK\` and 32 lowercase hex; ${unknownId('a key')}`, example: 'SK0123456789abcdef0123456789abcdef' },
  ApplicationId: { schema: { type: 'string', format: 'uuid' }, description: `a UUID (either case); ${unknownId('an application')}`, example: '2f1e7c9a-5b3d-4e8f-9a1b-0c2d3e4f5a6b' },
  File: { schema: { type: 'string' }, description: `a file name; ${unknownId('a file')}`, example: 'app.js' },
  UploadId: { schema: { type: 'string', pattern: '^UP[0-9a-f]{32}$' }, description: `\`UP\` and 32 lowercase hex; ${unknownId('an upload')}`, example: 'UP0123456789abcdef0123456789abcdef' },
  ShareLinkSid: { schema: { type: 'string', pattern: '^SL[0-9a-f]{32}$' }, description: `\`SL\` and 32 lowercase hex; ${unknownId('a link')}`, example: 'SL0123456789abcdef0123456789abcdef' },
  Token: {
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
    description: "the link's token (in its URL only): 256 random bits, base64url; any other value is a link that does not exist (404)",
    example: 'm7Qw1tq0fUo2M1V3YbdJYxk3sd6m3u7w3PwYtIcI2lE',
  },
};

/** The query parameters of a route's query schema, each with its schema from zod. */
function queryParameters(route: Route<unknown>): Json[] {
  if (!route.query) return [];
  const json = requestSchemaOf(route.query);
  const required = new Set((json.required as string[] | undefined) ?? []);
  const notes = route.queryNotes ?? {};
  const values = Object.values(notes).some((n) => n.describes === 'value') ? (valueSchemaOf(route.query).properties as Record<string, Json>) : {};
  return Object.entries(json.properties as Record<string, Json>).map(([name, s]) => {
    const note = notes[name];
    const converted = note?.describes === 'value' ? values[name]! : s;
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(note && { description: note.description }),
      schema: { ...converted, ...note?.schema },
      ...(note?.example !== undefined && { example: note.example }),
    };
  });
}

function answerOf(answer: Answer): Json {
  return {
    description: answer.description,
    headers: { ...COMMON_HEADERS, ...Object.fromEntries(Object.entries(answer.headers ?? {}).map(([name, h]) => [name, headerOf(h)])) },
    ...(answer.schema && { content: { 'application/json': { schema: ref('schemas', answer.schema) } } }),
    ...(answer.content && { content: answer.content }),
  };
}

function operationOf(route: Route<unknown>, area: Area, limits: OpenApiOptions['limits']): Json {
  const pathParameters = [...route.path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ref('parameters', m[1]!));
  const errors = new Set<AnsweredCode>([...(AREA_ERRORS[area.name] ?? []), ...(route.errors ?? []), ...EVERY_ROUTE_ERRORS]);
  if (route.body && 'json' in route.body) for (const code of JSON_BODY_ERRORS) errors.add(code);
  const responses: Json = Object.fromEntries(Object.entries(route.answers).map(([status, answer]) => [status, answerOf(answer!)]));
  for (const code of errors) {
    const status = String(ERRORS[code].status);
    if (!(status in responses)) responses[status] = ref('responses', errorResponseName(code));
  }
  const description = route.auth === 'owner' ? (route.description ? `${route.description}\n\n${OWNER_NOTE}` : OWNER_NOTE) : route.description;
  return {
    tags: [route.tag],
    operationId: route.operationId,
    summary: route.summary,
    ...(description && { description }),
    security: SECURITY[route.auth],
    parameters: [...pathParameters, ...queryParameters(route), ...(route.parameters ?? [])],
    ...(route.body && {
      requestBody:
        'json' in route.body
          ? {
              required: true,
              description: [
                route.body.description,
                `As \`Content-Type: application/json\` (else 415), at most ${limits.jsonBodyMaxBytes} bytes (JSON_BODY_MAX_BYTES; else 413), within ${limits.jsonBodyTimeoutSeconds} s (JSON_BODY_TIMEOUT_SECONDS; else 408).`,
              ]
                .filter(Boolean)
                .join(' '),
              content: { 'application/json': { schema: requestSchemaOf(route.body.json), example: route.body.example } },
            }
          : route.body.other,
    }),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

/** The OpenAPI 3.1 document of every route of the service, for a deployment's configuration. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const declared: Record<string, Record<string, Json>> = {};
  const areas = createAreas(options);
  for (const area of areas) {
    for (const route of area.routes as readonly Route<unknown>[]) {
      (declared[route.path] ??= {})[route.method.toLowerCase()] = operationOf(route, area, options.limits);
    }
  }
  const paths = orderSharedPaths(declared, areas);
  const usedParameters = new Set(Object.keys(paths).flatMap((p) => [...p.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'mediagate',
      version: packageVersion(),
      summary: 'Protected media URLs: credentials checked, then a 302 to a short-lived signed URL of the object store.',
      description: [
        'Every media item has a URL, `/v1/accounts/{AccountSid}/media/{MediaSid}`, the one handed to webhooks. Whether it needs credentials depends on whether its kind was protected when it was created: see the guide, `docs/api.md` in the repository, for accounts, media kinds, protection and legacy media, credentials, errors and limits.',
        '',
        'Errors are always JSON: `{"error": {"status": 401, "code": "unauthorized", "message": "…"}}`. Every response carries `X-Request-Id` (the request\'s own, if it sent a valid one) and `X-Content-Type-Options: nosniff`, except the answers to requests refused before they reach a route (431).',
        '',
        'Besides what each operation lists, on any path:',
        '- a path not named here (paths are matched exactly: case-sensitive, no trailing slash) answers **404** with the JSON error (`#/components/responses/Error404`);',
        '- a path named here, asked with a method it does not take, answers **405** with `Allow` naming the methods it takes, HEAD wherever GET is (`#/components/responses/Error405`); `OPTIONS` answers 204 with the same `Allow` (or a CORS preflight\'s answer);',
        '- a method the service does not know answers **501**, a request Node\'s HTTP parser refuses **400**; headers over 16 KB (the request line included) **431**, as each operation says;',
        '- a fault of the service answers **500**; its log line, with the same `X-Request-Id`, says what.',
      ].join('\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: options.publicBaseUrl, description: 'PUBLIC_BASE_URL' }],
    tags: [
      { name: 'Media URL', description: 'The URL handed to webhooks: 302 to a signed URL, its JSON form, or the bytes.' },
      { name: 'Media', description: 'Upload, read, list and delete media: any credential of the account.' },
      { name: 'Settings', description: "Protection per media kind and retention: the account's auth token." },
      { name: 'Credentials', description: "API keys, auth-token rotation and applications: the account's auth token." },
      { name: 'Share links', description: 'Capability URLs for one media item, for people and players with no credentials; revocable.' },
      { name: 'Events', description: 'Credential and setting changes.' },
      { name: 'Blobs', description: "The local store's signed URLs (local-disk store only)." },
      { name: 'Console', description: "The owner's web console and its session." },
      { name: 'Service', description: 'Health, readiness and metrics.' },
      { name: 'Reference', description: 'This reference.' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      responses: Object.fromEntries(
        (Object.keys(ERRORS) as AnsweredCode[]).map((code) => [
          errorResponseName(code),
          {
            description: ERRORS[code].description,
            headers: BEFORE_THE_APP.has(code) ? { 'X-Content-Type-Options': COMMON_HEADERS['X-Content-Type-Options'] } : { ...COMMON_HEADERS, ...ERROR_HEADERS[code] },
            content: { 'application/json': { schema: ref('schemas', errorResponseName(code)) } },
          },
        ]),
      ),
      parameters: Object.fromEntries(
        Object.entries(PATH_PARAMETERS)
          .filter(([name]) => usedParameters.has(name))
          .map(([name, p]) => [name, { name, in: 'path', required: true, ...p }]),
      ),
      headers: HEADERS,
      securitySchemes: {
        basicAuth: {
          type: 'http',
          scheme: 'basic',
          description: '`AccountSid:AuthToken` (primary or secondary token) or `ApiKeySid:ApiKeySecret` (the key belongs to one account).',
        },
        bearerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "A JWT signed with a registered application's private key (RS256 or EdDSA), claims `application_id`, `iat`, `exp` (at most 24 h after `iat`), `jti`: authenticates as the application's account.",
        },
        consoleSession: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: "The console's session cookie (from POST /console/session)." },
        consoleCsrf: { type: 'apiKey', in: 'header', name: CSRF_HEADER, description: "The session's CSRF token; required with the cookie." },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the operator set one.' },
      },
    },
  };
}

/**
 * Where a path of the document also matches another's template (`…/media/uploads` is
 * also `…/media/{MediaSid}` with the sid `uploads`), the other's methods answer there too,
 * and a 405 names them all in `Allow`: the route table (the service's own) says which,
 * and each operation of the path says so. Such a path is listed after the other: Prism's
 * router, among templates that match a request equally well (`…/{MediaSid}.json` and
 * `…/{MediaSid}` for `…/ME….json`), takes the one listed last, where the service takes the
 * one with more literal text.
 */
function orderSharedPaths(paths: Record<string, Record<string, Json>>, areas: readonly Area[]): Record<string, Record<string, Json>> {
  const table = new RouteTable<Area>();
  for (const area of areas) table.add(area, area.routes);
  const follows = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(paths)) {
    // OPTIONS is no route's method: the table answers with every method the path takes.
    const found = table.lookup('OPTIONS', path);
    if (found.found !== 'path') continue;
    const own = new Set(Object.keys(operations).map((m) => m.toUpperCase()));
    if (own.has('GET')) own.add('HEAD');
    const others = new Map<string, string[]>();
    for (const method of found.allow.filter((m) => !own.has(m))) {
      const answered = table.lookup(method, path);
      const template = answered.found === 'route' ? answered.entry.route.path : '?';
      others.set(template, [...(others.get(template) ?? []), method]);
    }
    if (others.size === 0) continue;
    follows.set(path, [...others.keys()]);
    const note = [...others]
      .map(([template, methods]) => `${methods.join(', ')} on this path ${methods.length > 1 ? 'are' : 'is'} answered as on \`${template}\`, whose template this path also matches.`)
      .concat(`A method this path does not take answers 405 with \`Allow: ${found.allow.join(', ')}\`.`)
      .join(' ');
    for (const operation of Object.values(operations)) {
      operation.description = operation.description ? `${String(operation.description)}\n\n${note}` : note;
    }
  }
  const ordered: Record<string, Record<string, Json>> = {};
  const waiting: string[] = [];
  const ready = (path: string) => (follows.get(path) ?? []).every((other) => other in ordered || !(other in paths));
  const place = (path: string) => {
    ordered[path] = paths[path]!;
    for (let next = waiting.find(ready); next !== undefined; next = waiting.find(ready)) {
      waiting.splice(waiting.indexOf(next), 1);
      place(next);
    }
  };
  for (const path of Object.keys(paths)) {
    if (ready(path)) place(path);
    else waiting.push(path);
  }
  for (const path of waiting) ordered[path] = paths[path]!;
  return ordered;
}

/** ./schemas.ts as `#/components/schemas`, referring to each other by `$ref`. */
function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(responseComponents, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: tidy,
  }) as { schemas: Record<string, Json> };
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema]));
}

/**
 * docs/openapi.json as committed (`npm run openapi` writes it; a unit test compares): the
 * document for the default configuration, whose server is the default PUBLIC_BASE_URL.
 */
export function referenceDocumentText(): string {
  return `${JSON.stringify(buildOpenApiDocument(parseConfig({})), null, 2)}\n`;
}
