import { z } from 'zod';
import { parseConfig, type Config } from '../config.js';
import { CONSOLE_SESSION_SECONDS } from '../domain/console-sessions.js';
import { MEDIA_KINDS } from '../domain/protection.js';
import { BLOB_PATH_PREFIX } from '../storage/local.js';
import { CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import { WWW_AUTHENTICATE } from './errors.js';
import { signInBody } from './routes/console.js';
import { applicationBody, nameBody } from './routes/credentials.js';
import { eventsQuery } from './routes/events.js';
import { mediaUrlQuery } from './routes/media-url.js';
import { listQuery, uploadQuery } from './routes/media.js';
import { protectExistingBody, protectionPatch, retentionBody } from './routes/settings.js';
import { responseComponents, type ErrorStatus } from './schemas.js';

// The service's API reference, OpenAPI 3.1, built from the code: request schemas are the
// zod objects the routes validate with, response schemas those of ./schemas.ts, both
// converted by zod's own z.toJSONSchema (JSON Schema 2020-12, OpenAPI 3.1's dialect). No
// generator library: what a route accepts and what the document says it accepts cannot
// differ, and the paths, statuses and headers around them are written here once, beside
// the code, where the tests (test/support/contract.ts) check every response against them.
//
// Two extensions tell the response check what plain OpenAPI cannot say:
// - `x-mediagate-when-query` on a media type: that body is answered only for that query
//   (the media URL's JSON form, `?redirect=false`); otherwise another form applies.
// - `x-mediagate-absent-when-request-header` on a header: not sent when the request
//   carried that header (no Basic challenge for the console's own calls).

export type OpenApiOptions = Pick<Config, 'publicBaseUrl' | 'mediaUrlTtlSeconds' | 'mediaMaxBytes'>;

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

/** A route's request schema as JSON Schema 2020-12: its input side, what a client sends (before preprocessing and transforms). */
function requestSchemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...converted } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', override: tidy }) as Json;
  return converted;
}

interface ParameterNotes {
  description: string;
  example?: unknown;
  /** added to the converted schema: what the route checks after its zod schema (e.g. parseKind) */
  schema?: Json;
}

/** The query parameters of a route's query schema, each with its schema from zod. */
function queryParameters(schema: z.ZodType, notes: Record<string, ParameterNotes>): Json[] {
  const json = requestSchemaOf(schema);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(json.properties as Record<string, Json>).map(([name, s]) => {
    const note = notes[name];
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

function jsonRequestBody(schema: z.ZodType, example: unknown, description?: string): Json {
  return {
    required: true,
    ...(description && { description }),
    content: { 'application/json': { schema: requestSchemaOf(schema), example } },
  };
}

// Every response carries these (request-log.ts, browser-policy.ts).
const COMMON_HEADERS = { 'X-Request-Id': ref('headers', 'X-Request-Id'), 'X-Content-Type-Options': ref('headers', 'X-Content-Type-Options') };

function answer(description: string, options: { schema?: string; content?: Json; headers?: Json } = {}): Json {
  return {
    description,
    headers: { ...COMMON_HEADERS, ...options.headers },
    ...(options.schema && { content: { 'application/json': { schema: ref('schemas', options.schema) } } }),
    ...(options.content && { content: options.content }),
  };
}

// The headers answers declare (`required`: every such answer carries it; the tests check).
const HEADERS: Record<string, Json> = {
  'X-Request-Id': {
    description: "The request's id in the service's logs: the request's own `X-Request-Id` when it sent a valid one (1 to 128 of `A-Za-z0-9._:-`), else a new UUID.",
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
  'X-Content-Type-Options': { description: 'On every response.', required: true, schema: { type: 'string', const: 'nosniff' } },
  Location: { description: 'Where to go next.', required: true, schema: { type: 'string', format: 'uri' } },
  'WWW-Authenticate': {
    description: 'The Basic challenge; not sent to the console\'s own calls (those carrying `X-CSRF-Token`), which must not make a browser prompt.',
    required: true,
    schema: { type: 'string', const: WWW_AUTHENTICATE },
    'x-mediagate-absent-when-request-header': CSRF_HEADER,
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
  'Cache-Control-Private': { description: 'Media URL answers are never cached by shared caches.', required: true, schema: { type: 'string', const: 'private, no-store' } },
  'Cache-Control-No-Store': { required: true, schema: { type: 'string', const: 'no-store' } },
  ETag: { description: 'A strong validator: stored objects never change.', required: true, schema: { type: 'string' } },
  'Accept-Ranges': { required: true, schema: { type: 'string', const: 'bytes' } },
  'Content-Range': { description: '`bytes {first}-{last}/{size}`', required: true, schema: { type: 'string', pattern: '^bytes \\d+-\\d+/\\d+$' } },
  'Content-Disposition': { description: '`attachment; filename="…"` with `?disposition=attachment`, and always for active types (HTML, SVG, XML, JavaScript, …).', required: false, schema: { type: 'string' } },
  'Content-Security-Policy-Sandbox': { description: 'Served bytes run nothing.', required: true, schema: { type: 'string', const: "sandbox; default-src 'none'" } },
  'Content-Security-Policy-Page': { description: "Scripts and styles only from this origin, none inline.", required: true, schema: { type: 'string', pattern: "default-src 'self'" } },
  'Access-Control-Allow-Origin-Any': { required: true, schema: { type: 'string', const: '*' } },
  'Set-Cookie-Session': { description: `\`${SESSION_COOKIE}\`: HttpOnly, SameSite=Strict (Secure when PUBLIC_BASE_URL is https).`, required: true, schema: { type: 'string' } },
};

const optional = (name: string): Json => ({ ...HEADERS[name], required: false });

const ERROR_RESPONSES: Record<ErrorStatus, { name: string; description: string; headers?: Json }> = {
  400: { name: 'BadRequest', description: 'A parameter or body is not valid; the message names the problem.' },
  401: {
    name: 'Unauthorized',
    description: 'Credentials are missing where they are required, malformed, unknown, wrong or revoked.',
    headers: { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') },
  },
  403: { name: 'Forbidden', description: 'Valid credentials that may not do this (another account, a key where the auth token is needed), or a state-changing request from a page of another origin.' },
  404: { name: 'NotFound', description: 'No such thing in this account (never existed, deleted or expired).' },
  408: { name: 'RequestTimeout', description: 'The body did not arrive in time (a JSON body within 10 s; an upload must keep a minimum pace).' },
  409: { name: 'Conflict', description: 'The request does not fit the current state.' },
  413: { name: 'PayloadTooLarge', description: 'The body is over its limit (MEDIA_MAX_BYTES for uploads, 64 KiB for JSON bodies).' },
  415: { name: 'UnsupportedMediaType', description: 'A JSON body sent with another Content-Type than application/json.' },
  416: {
    name: 'RangeNotSatisfiable',
    description: 'The Range asked for lies outside the object.',
    headers: { 'Content-Range': { description: '`bytes */{size}`', required: true, schema: { type: 'string', pattern: '^bytes \\*/\\d+$' } } },
  },
  429: {
    name: 'TooManyRequests',
    description: 'Too many failed authentications from this client address (or against this credential, for requests whose own credentials do not verify).',
    headers: { 'Retry-After': ref('headers', 'Retry-After') },
  },
  503: {
    name: 'ServiceUnavailable',
    description: 'The database or the object store cannot be reached; retry later.',
    headers: { 'Retry-After': ref('headers', 'Retry-After') },
  },
};

function errors(...statuses: ErrorStatus[]): Json {
  return Object.fromEntries(statuses.map((s) => [String(s), ref('responses', ERROR_RESPONSES[s].name)]));
}

// What every route under /v1/accounts may answer besides its own outcomes.
const ACCOUNT_ERRORS = [401, 403, 429, 503] as const;
// ... and those that read a JSON body (input.ts).
const JSON_BODY_ERRORS = [400, 408, 413, 415] as const;

const SECURITY = {
  mediaUrl: [{}, { basicAuth: [] }, { bearerJwt: [] }],
  mediaApi: [{ basicAuth: [] }, { bearerJwt: [] }, { consoleSession: [], consoleCsrf: [] }],
  owner: [{ basicAuth: [] }, { consoleSession: [], consoleCsrf: [] }],
  none: [],
};

const OWNER_NOTE = "Needs the account's auth token (`AccountSid:AuthToken`, or the console's session): API keys and application JWTs are answered 403.";

const accountSidParameter = ref('parameters', 'AccountSid');
const mediaSidParameter = ref('parameters', 'MediaSid');

// The stored bytes, served with the Content-Type given at upload.
const bytesContent = { '*/*': { schema: { type: 'string', format: 'binary' } } };

/** The OpenAPI 3.1 document of every route of the service, for a deployment's configuration. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const ttl = options.mediaUrlTtlSeconds;
  const mediaUrlParameters = queryParameters(mediaUrlQuery(ttl), {
    disposition: {
      description: '`attachment`: the signed URL (or the proxied answer) serves `Content-Disposition: attachment; filename="…"`.',
      example: 'attachment',
    },
    redirect: { description: '`false`: answer 200 with the signed URL as JSON instead of a 302 (whatever the `Accept` header says).', example: 'false' },
    expires_in: {
      description: `Seconds the signed URL lives, 60 to ${ttl} (MEDIA_URL_TTL_SECONDS, the default).`,
      example: '300',
    },
  });

  const mediaUrlResponses = (method: 'GET' | 'HEAD'): Json => ({
    '200': answer(
      'With `?redirect=false`: the signed URL as JSON. With MEDIA_DELIVERY=proxy (and no `redirect=false`): the bytes themselves, streamed from the store' +
        (method === 'HEAD' ? ' (headers only: a HEAD).' : '.'),
      {
        content: {
          'application/json': { schema: ref('schemas', 'MediaUrlAnswer'), 'x-mediagate-when-query': { redirect: 'false' } },
          ...bytesContent,
        },
        headers: {
          'Cache-Control': ref('headers', 'Cache-Control-Private'),
          // Only the bytes (proxy) carry these, not the JSON form: not required here.
          ETag: optional('ETag'),
          'Accept-Ranges': optional('Accept-Ranges'),
          'Content-Disposition': ref('headers', 'Content-Disposition'),
          'Content-Security-Policy': optional('Content-Security-Policy-Sandbox'),
        },
      },
    ),
    '206': answer('MEDIA_DELIVERY=proxy: the part of the bytes one `Range: bytes=…` asked for.', {
      content: bytesContent,
      headers: {
        'Cache-Control': ref('headers', 'Cache-Control-Private'),
        'Content-Range': ref('headers', 'Content-Range'),
        ETag: ref('headers', 'ETag'),
        'Accept-Ranges': ref('headers', 'Accept-Ranges'),
      },
    }),
    '302': answer(
      `The default answer: \`Location\` is a presigned URL of the object store (S3, CloudFront or the local store's \`${BLOB_PATH_PREFIX}…\`), valid for \`expires_in\` or MEDIA_URL_TTL_SECONDS, signed for ${method} (a URL signed for GET refuses a HEAD), serving the bytes with the stored Content-Type.`,
      { headers: { Location: ref('headers', 'Location'), 'Cache-Control': ref('headers', 'Cache-Control-Private') } },
    ),
    '304': answer('MEDIA_DELIVERY=proxy: `If-None-Match` names the media\'s ETag (objects never change).', {
      headers: { ETag: ref('headers', 'ETag'), 'Cache-Control': ref('headers', 'Cache-Control-Private') },
    }),
    ...errors(400, 401, 403, 404, 416, 429, 503),
  });

  const mediaUrlOperation = (method: 'GET' | 'HEAD') => ({
    tags: ['Media URL'],
    operationId: method === 'GET' ? 'getMediaUrl' : 'headMediaUrl',
    summary: method === 'GET' ? 'The media URL: redirect to (or deliver) the bytes' : 'The media URL, HEAD: redirected to a URL signed for HEAD',
    description: [
      'The URL handed to webhooks. Decided in this order:',
      '1. an `Authorization` header that is malformed, names unknown credentials, or has a wrong or revoked secret: **401** (never ignored, not even on legacy media);',
      '2. valid credentials of another account than `{AccountSid}`: **403**, before any lookup of the media;',
      '3. no such media in that account (never existed, deleted, expired): **404**;',
      '4. media with `requires_auth` and no credentials: **401**;',
      '5. otherwise the answer: a **302** to a signed URL (the default), that URL as JSON (`?redirect=false`), or the bytes (MEDIA_DELIVERY=proxy: 200, 206, 304, 416).',
      '',
      'Query values are checked (400) only after all of that. The `Accept` header never changes the answer.',
    ].join('\n'),
    security: SECURITY.mediaUrl,
    parameters: [
      accountSidParameter,
      mediaSidParameter,
      ...mediaUrlParameters,
      { name: 'Range', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: one `bytes=` range.', schema: { type: 'string' }, example: 'bytes=0-1023' },
      { name: 'If-None-Match', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: an ETag seen before.', schema: { type: 'string' } },
    ],
    responses: mediaUrlResponses(method),
  });

  const blobOperation = (method: 'GET' | 'HEAD') => ({
    tags: ['Blobs'],
    operationId: method === 'GET' ? 'getBlob' : 'headBlob',
    summary: "The local store's signed URL (where the media URL's 302 leads)",
    description:
      'Only with the local-disk store (no S3_BUCKET), on BLOB_BASE_URL (default PUBLIC_BASE_URL). Access is the signature alone (Ed25519): an `Authorization` header is ignored. ' +
      'A URL signed for GET also serves HEAD; one signed for HEAD serves only HEAD. Any origin may fetch it (`Access-Control-Allow-Origin: *`); the bytes run nothing (`Content-Security-Policy: sandbox`), and active types (HTML, SVG, XML, JavaScript, …) are served as attachments.',
    security: SECURITY.none,
    parameters: [
      accountSidParameter,
      mediaSidParameter,
      { name: 'exp', in: 'query', required: true, description: 'expiry, seconds since the epoch', schema: { type: 'string', pattern: '^\\d{1,12}$' } },
      { name: 'kid', in: 'query', required: true, description: 'the signing key', schema: { type: 'string' } },
      { name: 'ct', in: 'query', required: true, description: 'the Content-Type served', schema: { type: 'string' } },
      { name: 'cd', in: 'query', required: false, description: 'the Content-Disposition served', schema: { type: 'string' } },
      { name: 'sig', in: 'query', required: true, description: 'Ed25519 signature, base64url', schema: { type: 'string' } },
      { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
      { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
    ],
    responses: {
      '200': answer('The bytes' + (method === 'HEAD' ? ' (headers only).' : '.'), {
        content: bytesContent,
        headers: {
          ETag: ref('headers', 'ETag'),
          'Accept-Ranges': ref('headers', 'Accept-Ranges'),
          'Content-Security-Policy': ref('headers', 'Content-Security-Policy-Sandbox'),
          'Content-Disposition': ref('headers', 'Content-Disposition'),
          'Access-Control-Allow-Origin': ref('headers', 'Access-Control-Allow-Origin-Any'),
        },
      }),
      '206': answer('The part one `Range` asked for.', {
        content: bytesContent,
        headers: {
          'Content-Range': ref('headers', 'Content-Range'),
          ETag: ref('headers', 'ETag'),
          'Accept-Ranges': ref('headers', 'Accept-Ranges'),
        },
      }),
      '304': answer('`If-None-Match` names the ETag.', { headers: { ETag: ref('headers', 'ETag') } }),
      '403': {
        ...ref('responses', 'Forbidden'),
        description: 'The URL is not a valid signed URL, its signature is wrong, or it has expired.',
      },
      ...errors(404, 416),
    },
  });

  const paths: Record<string, Record<string, Json>> = {
    '/v1/accounts/{AccountSid}/media/{MediaSid}': {
      get: mediaUrlOperation('GET'),
      head: mediaUrlOperation('HEAD'),
      delete: {
        tags: ['Media'],
        operationId: 'deleteMedia',
        summary: 'Delete media',
        description: 'Removes the object from the store; the media URL answers 404 from then on.',
        security: SECURITY.mediaApi,
        parameters: [accountSidParameter, mediaSidParameter],
        responses: { '204': answer('Deleted.'), ...errors(...ACCOUNT_ERRORS, 404) },
      },
    },
    '/v1/accounts/{AccountSid}/media/{MediaSid}.json': {
      get: {
        tags: ['Media'],
        operationId: 'getMedia',
        summary: "A media item's metadata",
        security: SECURITY.mediaApi,
        parameters: [accountSidParameter, mediaSidParameter],
        responses: { '200': answer('The metadata.', { schema: 'Media' }), ...errors(...ACCOUNT_ERRORS, 404) },
      },
    },
    '/v1/accounts/{AccountSid}/media': {
      get: {
        tags: ['Media'],
        operationId: 'listMedia',
        summary: 'List media, newest first',
        description: 'Paged: pass `next_page_token` back as `page_token` until it is null. A JWT lists only what its application may reach.',
        security: SECURITY.mediaApi,
        parameters: [
          accountSidParameter,
          ...queryParameters(listQuery, {
            kind: { description: 'only media of this kind' },
            page_size: { description: 'media per page, 1 to 1000 (default 50)', example: '50' },
            page_token: { description: 'the previous page\'s `next_page_token`' },
          }),
        ],
        responses: { '200': answer('A page of media.', { schema: 'MediaList' }), ...errors(...ACCOUNT_ERRORS, 400) },
      },
      post: {
        tags: ['Media'],
        operationId: 'uploadMedia',
        summary: 'Upload media',
        description:
          "The body is the raw bytes, streamed to the object store, with their `Content-Type` (kept and served back; default application/octet-stream). " +
          `The media records whether its kind is protected at this moment (\`requires_auth\`). Empty body: 400; over MEDIA_MAX_BYTES (${options.mediaMaxBytes}): 413.`,
        security: SECURITY.mediaApi,
        parameters: [
          accountSidParameter,
          ...queryParameters(uploadQuery, {
            kind: { description: `the media's kind: ${MEDIA_KINDS.join(', ')}`, schema: { enum: [...MEDIA_KINDS] }, example: 'message' },
            filename: { description: 'a display name (its last path segment is kept)', example: 'a.jpg' },
            application_id: { description: 'bind the media to this application of the account: its JWTs (and the account\'s token and keys) reach it, other applications\' do not' },
          }),
        ],
        requestBody: {
          required: true,
          description: 'The bytes.',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
        },
        responses: {
          '201': answer('Stored.', { schema: 'Media', headers: { Location: { ...ref('headers', 'Location'), description: 'the media URL' } } }),
          ...errors(...ACCOUNT_ERRORS, 400, 404, 408, 413),
        },
      },
    },
    '/v1/accounts/{AccountSid}/settings/media-protection': {
      get: ownerOperation('getMediaProtection', 'Settings', 'The protection switch of each media kind', {
        responses: { '200': answer('The switches.', { schema: 'MediaProtection' }), ...errors(...ACCOUNT_ERRORS, 404) },
      }),
      patch: ownerOperation('updateMediaProtection', 'Settings', 'Switch protection per kind', {
        description:
          'Effective at once, on every instance. Media created from then on records the new state; media created before keeps its own (legacy media stays public; use protect-existing).',
        requestBody: jsonRequestBody(protectionPatch, { message: true, fax: false }, 'At least one of message, recording, fax.'),
        responses: { '200': answer('The new state.', { schema: 'MediaProtection' }), ...errors(...ACCOUNT_ERRORS, ...JSON_BODY_ERRORS, 404) },
      }),
    },
    '/v1/accounts/{AccountSid}/settings/media-protection/protect-existing': {
      post: ownerOperation('protectExistingMedia', 'Settings', 'Protect all existing media of a kind', {
        requestBody: jsonRequestBody(protectExistingBody, { kind: 'message' }),
        responses: { '200': answer('How many media items changed.', { schema: 'ProtectExistingResult' }), ...errors(...ACCOUNT_ERRORS, ...JSON_BODY_ERRORS) },
      }),
    },
    '/v1/accounts/{AccountSid}/settings/retention': {
      get: ownerOperation('getRetention', 'Settings', 'How long media is kept', {
        responses: { '200': answer('The retention.', { schema: 'Retention' }), ...errors(...ACCOUNT_ERRORS, 404) },
      }),
      patch: ownerOperation('updateRetention', 'Settings', 'Set how long media is kept', {
        description: '`null`: until deleted (the default); a number of days (1 to 36500): media expires that long after its creation (`mediagate sweep` deletes it; its URL answers 404 at once).',
        requestBody: jsonRequestBody(retentionBody, { days: 90 }),
        responses: { '200': answer('The new retention.', { schema: 'Retention' }), ...errors(...ACCOUNT_ERRORS, ...JSON_BODY_ERRORS, 404) },
      }),
    },
    '/v1/accounts/{AccountSid}/keys': {
      post: ownerOperation('createApiKey', 'Credentials', 'Create an API key', {
        description: 'The secret is shown once. `ApiKeySid:ApiKeySecret` then works as Basic credentials of the account (media API and media URLs).',
        requestBody: jsonRequestBody(nameBody, { name: 'webhooks' }),
        responses: { '201': answer('The key, with its secret.', { schema: 'ApiKeyCreated' }), ...errors(...ACCOUNT_ERRORS, ...JSON_BODY_ERRORS) },
      }),
      get: ownerOperation('listApiKeys', 'Credentials', 'List API keys (without secrets)', {
        responses: { '200': answer('The keys.', { schema: 'ApiKeyList' }), ...errors(...ACCOUNT_ERRORS) },
      }),
    },
    '/v1/accounts/{AccountSid}/keys/{KeySid}': {
      delete: ownerOperation('deleteApiKey', 'Credentials', 'Delete an API key', {
        description: 'The key fails from then on, on every instance.',
        parameters: [accountSidParameter, { name: 'KeySid', in: 'path', required: true, schema: { type: 'string', pattern: '^SK[0-9a-f]{32}$' } }],
        responses: { '204': answer('Deleted.'), ...errors(...ACCOUNT_ERRORS, 404) },
      }),
    },
    '/v1/accounts/{AccountSid}/auth-tokens/secondary': {
      post: ownerOperation('createSecondaryAuthToken', 'Credentials', 'Create (or replace) the secondary auth token', {
        description: 'Both tokens work until the secondary is promoted or deleted. Shown once.',
        responses: { '201': answer('The secondary token.', { schema: 'SecondaryAuthToken' }), ...errors(...ACCOUNT_ERRORS) },
      }),
      delete: ownerOperation('deleteSecondaryAuthToken', 'Credentials', 'Delete the secondary auth token', {
        responses: { '204': answer('Deleted.'), ...errors(...ACCOUNT_ERRORS, 404) },
      }),
    },
    '/v1/accounts/{AccountSid}/auth-tokens/promote': {
      post: ownerOperation('promoteSecondaryAuthToken', 'Credentials', 'Promote the secondary auth token', {
        description: 'The secondary becomes the primary; the old primary fails from then on, on every instance (and console sessions end).',
        responses: { '200': answer('Promoted.', { schema: 'Promoted' }), ...errors(...ACCOUNT_ERRORS, 409) },
      }),
    },
    '/v1/accounts/{AccountSid}/applications': {
      post: ownerOperation('createApplication', 'Credentials', 'Register an application (a public key for JWTs)', {
        description:
          'An RSA (≥ 2048 bits, RS256) or Ed25519 (EdDSA) public key in PEM. `Authorization: Bearer <jwt>` signed with its private key, with claims `application_id`, `iat`, `exp` (at most 24 h after `iat`) and `jti`, then authenticates as the account.',
        requestBody: jsonRequestBody(applicationBody, { name: 'voice', public_key: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA…\n-----END PUBLIC KEY-----\n' }),
        responses: { '201': answer('The application.', { schema: 'Application' }), ...errors(...ACCOUNT_ERRORS, ...JSON_BODY_ERRORS) },
      }),
      get: ownerOperation('listApplications', 'Credentials', 'List applications', {
        responses: { '200': answer('The applications.', { schema: 'ApplicationList' }), ...errors(...ACCOUNT_ERRORS) },
      }),
    },
    '/v1/accounts/{AccountSid}/applications/{ApplicationId}': {
      delete: ownerOperation('deleteApplication', 'Credentials', 'Delete an application', {
        description: "Its JWTs fail at once, on every instance; media bound to it stays reachable with the account's token and keys.",
        parameters: [accountSidParameter, { name: 'ApplicationId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        responses: { '204': answer('Deleted.'), ...errors(...ACCOUNT_ERRORS, 404) },
      }),
    },
    '/v1/accounts/{AccountSid}/events': {
      get: ownerOperation('listEvents', 'Events', 'Recent credential and setting changes, newest first', {
        parameters: [
          accountSidParameter,
          ...queryParameters(eventsQuery, {
            page_size: { description: 'events per page, 1 to 1000 (default 50)', example: '50' },
            page_token: { description: 'the previous page\'s `next_page_token`' },
          }),
        ],
        responses: { '200': answer('A page of events.', { schema: 'AccountEventList' }), ...errors(...ACCOUNT_ERRORS, 400) },
      }),
    },
    [`${BLOB_PATH_PREFIX}{AccountSid}/{MediaSid}`]: { get: blobOperation('GET'), head: blobOperation('HEAD') },
    '/console': {
      get: {
        tags: ['Console'],
        operationId: 'getConsolePage',
        summary: "The owner's console (a web page)",
        description: "Served by the service itself under `Content-Security-Policy: default-src 'self'` (no script or asset from elsewhere).",
        security: SECURITY.none,
        responses: { '200': answer('The page.', { content: { 'text/html': { schema: { type: 'string' } } }, headers: { 'Content-Security-Policy': ref('headers', 'Content-Security-Policy-Page') } }) },
      },
    },
    '/console/assets/{file}': {
      get: {
        tags: ['Console'],
        operationId: 'getConsoleAsset',
        summary: "The console page's scripts, styles and images",
        security: SECURITY.none,
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' }, example: 'app.js' }],
        responses: {
          '200': answer('The file.', {
            content: Object.fromEntries(['text/javascript', 'text/css', 'image/svg+xml', 'image/png'].map((t) => [t, { schema: { type: 'string' } }])),
          }),
          ...errors(404),
        },
      },
    },
    '/console/session': {
      post: {
        tags: ['Console'],
        operationId: 'openConsoleSession',
        summary: 'Sign in to the console',
        description: `With the account SID and its auth token (API keys cannot sign in). Sets the \`${SESSION_COOKIE}\` cookie (HttpOnly, SameSite=Strict, ${CONSOLE_SESSION_SECONDS / 3600} h); the page then calls the /v1/accounts API with the session's \`${CSRF_HEADER}\`. Failed sign-ins count towards the throttle (429).`,
        security: SECURITY.none,
        requestBody: jsonRequestBody(signInBody, { account_sid: 'AC0123456789abcdef0123456789abcdef', auth_token: '0123456789abcdef0123456789abcdef' }),
        responses: {
          '201': answer('Signed in.', { schema: 'ConsoleSession', headers: { 'Set-Cookie': ref('headers', 'Set-Cookie-Session'), 'Cache-Control': ref('headers', 'Cache-Control-No-Store') } }),
          ...errors(...JSON_BODY_ERRORS, 403, 429, 503),
          '401': ref('responses', 'ConsoleUnauthorized'),
        },
      },
      get: {
        tags: ['Console'],
        operationId: 'getConsoleSession',
        summary: 'The current console session (its CSRF token, for a reloaded page)',
        security: [{}, { consoleSession: [] }],
        responses: {
          '200': answer('Signed in.', { schema: 'ConsoleSession', headers: { 'Cache-Control': ref('headers', 'Cache-Control-No-Store') } }),
          '204': answer('Signed out (an ordinary state for the page, not an error).', { headers: { 'Cache-Control': ref('headers', 'Cache-Control-No-Store') } }),
          ...errors(503),
        },
      },
      delete: {
        tags: ['Console'],
        operationId: 'closeConsoleSession',
        summary: 'Sign out',
        description: `Needs the session's \`${CSRF_HEADER}\` too, so that no other site can end it. Always clears the cookie.`,
        security: [{ consoleSession: [], consoleCsrf: [] }],
        responses: {
          '204': answer('Signed out.', { headers: { 'Set-Cookie': ref('headers', 'Set-Cookie-Session') } }),
          '401': ref('responses', 'ConsoleUnauthorized'),
          ...errors(403, 503),
        },
      },
    },
    '/healthz': {
      get: {
        tags: ['Service'],
        operationId: 'getHealth',
        summary: 'The process is alive',
        security: SECURITY.none,
        responses: { '200': answer('Alive.', { schema: 'Health' }) },
      },
    },
    '/readyz': {
      get: {
        tags: ['Service'],
        operationId: 'getReadiness',
        summary: 'Whether this instance should get traffic',
        description:
          '200 when not shutting down, the database answers with every migration applied, the invalidation feed (LISTEN) is connected and the object store answers; otherwise 503 naming the failed checks. From SIGTERM on it is 503 while the service still serves for SHUTDOWN_DELAY_SECONDS.',
        security: SECURITY.none,
        responses: {
          '200': answer('Ready.', { schema: 'Readiness', headers: { 'Cache-Control': ref('headers', 'Cache-Control-No-Store') } }),
          '503': answer('Not ready; the message and `checks` say why.', {
            schema: 'NotReady',
            headers: { 'Retry-After': ref('headers', 'Retry-After'), 'Cache-Control': ref('headers', 'Cache-Control-No-Store') },
          }),
        },
      },
    },
    '/metrics': {
      get: {
        tags: ['Service'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description: 'Requests by route and status, durations, media URL outcomes, database and store timings. With METRICS_TOKEN set, needs `Authorization: Bearer <METRICS_TOKEN>`.',
        security: [{}, { metricsToken: [] }],
        responses: {
          '200': answer('The Prometheus text format.', { content: { 'text/plain': { schema: { type: 'string' } } } }),
          '401': {
            description: 'METRICS_TOKEN is set and the request does not carry it.',
            headers: {
              ...COMMON_HEADERS,
              'WWW-Authenticate': { required: true, schema: { type: 'string', const: 'Bearer realm="metrics"' } },
            },
            content: { 'application/json': { schema: ref('schemas', 'Error401') } },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        tags: ['Reference'],
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        security: SECURITY.none,
        responses: { '200': answer('OpenAPI 3.1, for this deployment (its `servers` is PUBLIC_BASE_URL).', { content: { 'application/json': { schema: { type: 'object' } } } }) },
      },
    },
    '/docs': {
      get: {
        tags: ['Reference'],
        operationId: 'getDocsPage',
        summary: 'This reference as a web page',
        description: "Rendered by Swagger UI, served by the service itself (works offline, under a self-only Content-Security-Policy).",
        security: SECURITY.none,
        responses: { '200': answer('The page.', { content: { 'text/html': { schema: { type: 'string' } } }, headers: { 'Content-Security-Policy': ref('headers', 'Content-Security-Policy-Page') } }) },
      },
    },
    '/docs/assets/{file}': {
      get: {
        tags: ['Reference'],
        operationId: 'getDocsAsset',
        summary: "The reference page's script and styles",
        security: SECURITY.none,
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' }, example: 'swagger-ui.css' }],
        responses: {
          '200': answer('The file.', { content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } }),
          ...errors(404),
        },
      },
    },
  };

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
      { name: 'Events', description: 'Credential and setting changes.' },
      { name: 'Blobs', description: "The local store's signed URLs (local-disk store only)." },
      { name: 'Console', description: "The owner's web console and its session." },
      { name: 'Service', description: 'Health, readiness and metrics.' },
      { name: 'Reference', description: 'This reference.' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      responses: {
        ...Object.fromEntries(
          Object.entries(ERROR_RESPONSES).map(([status, r]) => [
            r.name,
            {
              description: r.description,
              headers: { ...COMMON_HEADERS, ...r.headers },
              content: { 'application/json': { schema: ref('schemas', `Error${status}`) } },
            },
          ]),
        ),
        ConsoleUnauthorized: {
          description: 'Not signed in, or the session has ended (no Basic challenge: the page asks for the credentials itself).',
          headers: COMMON_HEADERS,
          content: { 'application/json': { schema: ref('schemas', 'Error401') } },
        },
      },
      parameters: {
        AccountSid: { name: 'AccountSid', in: 'path', required: true, schema: { type: 'string', pattern: '^AC[0-9a-f]{32}$' }, example: 'AC0123456789abcdef0123456789abcdef' },
        MediaSid: { name: 'MediaSid', in: 'path', required: true, schema: { type: 'string', pattern: '^ME[0-9a-f]{32}$' }, example: 'ME0123456789abcdef0123456789abcdef' },
      },
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
        consoleCsrf: { type: 'apiKey', in: 'header', name: CSRF_HEADER, description: 'The session\'s CSRF token; required with the cookie.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the operator set one.' },
      },
    },
  };

  function ownerOperation(operationId: string, tag: string, summary: string, op: Json): Json {
    return {
      tags: [tag],
      operationId,
      summary,
      ...op,
      description: op.description ? `${String(op.description)}\n\n${OWNER_NOTE}` : OWNER_NOTE,
      security: SECURITY.owner,
      parameters: (op.parameters as Json[] | undefined) ?? [accountSidParameter],
    };
  }
}

/** ./schemas.ts as `#/components/schemas`, referring to each other by `$ref`. */
function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(responseComponents, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: tidy,
  }) as { schemas: Record<string, Json> };
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema]),
  );
}

/**
 * docs/openapi.json as committed (`npm run openapi` writes it; a unit test compares): the
 * document for the default configuration, whose server is the default PUBLIC_BASE_URL.
 */
export function referenceDocumentText(): string {
  return `${JSON.stringify(buildOpenApiDocument(parseConfig({})), null, 2)}\n`;
}
