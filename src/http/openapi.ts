import { z } from 'zod';
import { parseConfig } from '../config.js';
import type { Area } from './area.js';
import { createAreas, type AreaConfig } from './areas.js';
import { CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import { ERRORS, WWW_AUTHENTICATE, type AnsweredCode } from './errors.js';
import type { Answer, Route } from './route.js';
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

// Every response carries these (app.ts).
const COMMON_HEADERS = { 'X-Request-Id': ref('headers', 'X-Request-Id'), 'X-Content-Type-Options': ref('headers', 'X-Content-Type-Options') };

// The headers answers name (`required`: every such answer carries it; the tests check).
const HEADERS: Record<string, Json> = {
  'X-Request-Id': {
    description: "The request's id in the service's logs: the request's own `X-Request-Id` when it sent a valid one (1 to 128 of `A-Za-z0-9._:-`), else a new UUID.",
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
  Allow: { description: 'The methods the path takes.', required: true, schema: { type: 'string' } },
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

// The path parameters routes name, by their name in the path.
const PATH_PARAMETERS: Record<string, Json> = {
  AccountSid: { schema: { type: 'string', pattern: '^AC[0-9a-f]{32}$' }, example: 'AC0123456789abcdef0123456789abcdef' },
  MediaSid: { schema: { type: 'string', pattern: '^ME[0-9a-f]{32}$' }, example: 'ME0123456789abcdef0123456789abcdef' },
  KeySid: { schema: { type: 'string', pattern: '^SK[0-9a-f]{32}$' }, example: 'SK0123456789abcdef0123456789abcdef' },
  ApplicationId: { schema: { type: 'string', format: 'uuid' }, example: '2f1e7c9a-5b3d-4e8f-9a1b-0c2d3e4f5a6b' },
  File: { schema: { type: 'string' }, example: 'app.js' },
  UploadId: { schema: { type: 'string', pattern: '^UP[0-9a-f]{32}$' }, example: 'UP0123456789abcdef0123456789abcdef' },
  ShareLinkSid: { schema: { type: 'string', pattern: '^SL[0-9a-f]{32}$' }, example: 'SL0123456789abcdef0123456789abcdef' },
  Token: { schema: { type: 'string' }, description: "the link's token (in its URL only)", example: 'm7Qw1tq0fUo2M1V3YbdJYxk3sd6m3u7w3PwYtIcI2lE' },
};

/** The query parameters of a route's query schema, each with its schema from zod. */
function queryParameters(route: Route<unknown>): Json[] {
  if (!route.query) return [];
  const json = requestSchemaOf(route.query);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(json.properties as Record<string, Json>).map(([name, s]) => {
    const note = route.queryNotes?.[name];
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(note && { description: note.description }),
      schema: { ...s, ...note?.schema },
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

function operationOf(route: Route<unknown>, area: Area): Json {
  const pathParameters = [...route.path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ref('parameters', m[1]!));
  const errors = new Set<AnsweredCode>([...(AREA_ERRORS[area.name] ?? []), ...(route.errors ?? [])]);
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
              ...(route.body.description && { description: route.body.description }),
              content: { 'application/json': { schema: requestSchemaOf(route.body.json), example: route.body.example } },
            }
          : route.body.other,
    }),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

/** The OpenAPI 3.1 document of every route of the service, for a deployment's configuration. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const paths: Record<string, Record<string, Json>> = {};
  for (const area of createAreas(options)) {
    for (const route of area.routes as readonly Route<unknown>[]) {
      (paths[route.path] ??= {})[route.method.toLowerCase()] = operationOf(route, area);
    }
  }
  const usedParameters = new Set(Object.keys(paths).flatMap((p) => [...p.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'mediagate',
      version: '1',
      summary: 'Protected media URLs: credentials checked, then a 302 to a short-lived signed URL of the object store.',
      description: [
        'Every media item has a URL, `/v1/accounts/{AccountSid}/media/{MediaSid}`, the one handed to webhooks. Whether it needs credentials depends on whether its kind was protected when it was created: see the guide, `docs/api.md` in the repository, for accounts, media kinds, protection and legacy media, credentials, errors and limits.',
        '',
        'Errors are always JSON: `{"error": {"status": 401, "code": "unauthorized", "message": "…"}}`. Every response carries `X-Request-Id` (the request\'s own, if it sent a valid one) and `X-Content-Type-Options: nosniff`.',
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
            headers: { ...COMMON_HEADERS, ...ERROR_HEADERS[code] },
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
