import { z } from 'zod';
import { MEDIA_KINDS } from '../domain/media-kinds.js';
import { ERRORS } from './errors.js';

// The JSON the service answers with, as zod schemas: src/http/openapi.ts turns them into
// the OpenAPI document's components (z.toJSONSchema), and the tests validate every
// response they receive against that document. Objects are strict: a field a route adds
// without adding it here makes the tests fail, so the reference cannot fall behind.
// (Request schemas are not here: they are the very ones the routes validate with,
// exported from the route files.)

interface ComponentMeta {
  id: string;
  description?: string;
  examples?: unknown[];
}

/** Every schema that becomes `#/components/schemas/{id}` (this registry holds the ids alone). */
export const responseComponents = z.registry<{ id: string }>();

function component<T extends z.ZodType>(schema: T, { id, ...meta }: ComponentMeta): T {
  // Descriptions and examples go where z.toJSONSchema reads them, as everywhere else in
  // zod: the schema's own .meta() (the global registry).
  const described = schema.meta(meta);
  responseComponents.add(described, { id });
  return described;
}

// What the domain enforces on text, as JSON Schema patterns (ECMA-262, Unicode mode) for
// the reference; the unit test of the document holds each to the domain's own check.
// domain/printable.ts: names, labels and file names hold no control (Cc), format (Cf:
// bidirectional overrides, zero-width characters) or line and paragraph separator
// (Zl, Zp) characters once trimmed (String.prototype.trim: what `\s` matches).
const UNPRINTABLE = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}`;
const TRIMMED_TEXT = String.raw`[^\s${UNPRINTABLE}](?:[^${UNPRINTABLE}]*[^\s${UNPRINTABLE}])?`;
/** A name (of a key, an application): printable, not blank once trimmed (domain/accounts.ts validateName). */
export const NAME_PATTERN = String.raw`^\s*${TRIMMED_TEXT}\s*$`;
/** A share link's label: printable once trimmed; blank is no label (domain/share-links.ts). */
export const LABEL_PATTERN = String.raw`^\s*(?:${TRIMMED_TEXT})?\s*$`;
/** A file name: its last path segment, trimmed, is kept: printable, not blank, not `.` or `..` (domain/media.ts parseFilename). */
export const FILENAME_PATTERN = String.raw`^(?:[\s\S]*[/\\])?(?!\s*\.\.?\s*$)\s*[^\s${UNPRINTABLE}/\\](?:[^${UNPRINTABLE}/\\]*[^\s${UNPRINTABLE}/\\])?\s*$`;
/** Lengths are the domain's: UTF-16 code units, as JavaScript counts them; JSON Schema's maxLength counts characters. */
const UTF16_NOTE = 'a character beyond U+FFFF, such as an emoji, counts as two';
export const FILENAME_NOTE = `its last path segment (after a \`/\` or \`\\\`), trimmed, is kept: 1 to 255 characters (${UTF16_NOTE}), none of them a control, format or line-separator character, and not \`.\` or \`..\`; anything else is 400`;
export const NAME_NOTE = `1 to 200 characters once trimmed (${UTF16_NOTE}), none of them a control, format or line-separator character; anything else is 400`;
export const LABEL_NOTE = `at most 100 characters (${UTF16_NOTE}), none of them a control, format or line-separator character once trimmed; blank is no label`;
// domain/media.ts parseContentType: a media type as RFC 9110 writes it, parameters
// included, at most 255 characters once trimmed; blank is application/octet-stream.
const MEDIA_TYPE_TOKEN = '[A-Za-z0-9!#$&^_.+-]+';
export const CONTENT_TYPE_PATTERN = String.raw`^\s*(?:${MEDIA_TYPE_TOKEN}/${MEDIA_TYPE_TOKEN}(?:\s*;\s*${MEDIA_TYPE_TOKEN}=(?:"[^"\\\u0000-\u001f]*"|${MEDIA_TYPE_TOKEN}))*)?\s*$`;
export const CONTENT_TYPE_NOTE = '`type/subtype`, parameters allowed, at most 255 characters; another value is 400';

const SID_HEX = '[0-9a-f]{32}';
const accountSid = z.string().regex(new RegExp(`^AC${SID_HEX}$`)).meta({ examples: ['AC0123456789abcdef0123456789abcdef'] });
const mediaSid = z.string().regex(new RegExp(`^ME${SID_HEX}$`)).meta({ examples: ['ME0123456789abcdef0123456789abcdef'] });
const keySid = z.string().regex(new RegExp(`^SK${SID_HEX}$`)).meta({ examples: ['SK0123456789abcdef0123456789abcdef'] });
const secret = z.string().regex(/^[0-9a-f]{32,}$/).meta({ description: 'shown once: only its hash is stored' });
const timestamp = z.iso.datetime().meta({ examples: ['2026-11-28T09:30:00.000Z'] });
const kind = z.enum(MEDIA_KINDS);
/** As stored: trimmed (domain/accounts.ts validateName). */
const name = z.string().min(1).max(200);
const UUID_LOWER = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

// One error schema per status, from the error table: an answer with another status's
// code (or the wrong status in the body) fails the tests' response check.
for (const [code, entry] of Object.entries(ERRORS)) {
  component(
    z.strictObject({
      error: z.strictObject({
        status: z.literal(entry.status),
        code: z.literal(code),
        message: z.string().meta({ description: 'for people; safe to show, never an internal detail' }),
      }),
    }),
    {
      id: `Error${entry.status}`,
      description: `The error body of a ${entry.status}: every error of the service has this shape.`,
      examples: [{ error: { status: entry.status, code, message: entry.example } }],
    },
  );
}

export const media = component(
  z.strictObject({
    sid: mediaSid,
    account_sid: accountSid,
    kind,
    content_type: z.string().min(1).max(255).meta({ description: 'as sent with the upload; the media URL serves it back' }),
    size_bytes: z.int().min(1).meta({ description: 'never 0: an empty upload is refused' }),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable().meta({ description: 'hex; null for a direct upload completed without one: the service never saw its bytes' }),
    filename: z.string().min(1).max(255).nullable(),
    created_at: timestamp,
    requires_auth: z.boolean().meta({
      description: "whether the media URL needs credentials: its kind's protection when it was created, or protect-existing since",
    }),
    application_id: z.uuid().nullable().meta({ description: 'set: only JWTs of this application (besides the account\'s token and keys) reach it' }),
    url: z.url().meta({ description: 'the media URL: `{PUBLIC_BASE_URL}/v1/accounts/{AccountSid}/media/{MediaSid}`' }),
  }),
  {
    id: 'Media',
    description: "A media item's metadata.",
    examples: [
      {
        sid: 'ME0123456789abcdef0123456789abcdef',
        account_sid: 'AC0123456789abcdef0123456789abcdef',
        kind: 'message',
        content_type: 'image/jpeg',
        size_bytes: 48213,
        sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        filename: 'a.jpg',
        created_at: '2026-11-28T09:30:00.000Z',
        requires_auth: true,
        application_id: null,
        url: 'https://media.example.com/v1/accounts/AC0123456789abcdef0123456789abcdef/media/ME0123456789abcdef0123456789abcdef',
      },
    ],
  },
);

const pageToken = z.string().nullable().meta({ description: 'pass as `page_token` for the next page; null on the last page' });

export const mediaList = component(z.strictObject({ media: z.array(media), next_page_token: pageToken }), {
  id: 'MediaList',
  description: 'A page of media, newest first.',
});

export const mediaUrlAnswer = component(
  z.strictObject({
    url: z.url().meta({ description: 'the signed URL the 302 would have named' }),
    method: z.enum(['GET', 'HEAD']).meta({ description: 'the method the URL is signed for (a HEAD asks for a HEAD URL)' }),
    expires_at: timestamp.meta({ description: 'when the signed URL stops working' }),
    content_type: z.string().min(1).max(255),
    size_bytes: z.int().min(1),
    filename: z.string().min(1).max(255).nullable(),
  }),
  {
    id: 'MediaUrlAnswer',
    description: 'The media URL answered with `?redirect=false`: the signed URL as JSON, for clients that cannot take a 302.',
    examples: [
      {
        url: 'https://bucket.s3.amazonaws.com/AC0123456789abcdef0123456789abcdef/ME0123456789abcdef0123456789abcdef?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=14400&X-Amz-Signature=…',
        method: 'GET',
        expires_at: '2026-11-28T13:30:00.000Z',
        content_type: 'image/jpeg',
        size_bytes: 48213,
        filename: 'a.jpg',
      },
    ],
  },
);

const protectionOfKind = z.strictObject({ enabled: z.boolean(), changed_at: timestamp.nullable() });

export const protectionState = component(
  z.strictObject(Object.fromEntries(MEDIA_KINDS.map((k) => [k, protectionOfKind])) as Record<(typeof MEDIA_KINDS)[number], typeof protectionOfKind>),
  {
    id: 'MediaProtection',
    description: "The account's protection switch of each media kind (all off for a new account).",
    examples: [
      {
        message: { enabled: true, changed_at: '2026-11-28T09:30:00.000Z' },
        recording: { enabled: false, changed_at: null },
        fax: { enabled: false, changed_at: null },
      },
    ],
  },
);

export const protectExistingResult = component(z.strictObject({ protected: z.int().nonnegative() }), {
  id: 'ProtectExistingResult',
  description: 'How many media items of the kind now require auth that did not before.',
  examples: [{ protected: 42 }],
});

export const retention = component(
  z.strictObject({
    days: z.int().min(1).max(36_500).nullable().meta({ description: 'null: media is kept until deleted; else it expires this many days after its creation' }),
  }),
  { id: 'Retention', examples: [{ days: 90 }, { days: null }] },
);

export const apiKey = component(z.strictObject({ sid: keySid, name, created_at: timestamp }), {
  id: 'ApiKey',
  description: 'An API key, without its secret.',
});

export const apiKeyCreated = component(z.strictObject({ sid: keySid, name, secret, created_at: timestamp }), {
  id: 'ApiKeyCreated',
  description: 'A new API key with its secret, shown this once. Use `SK…:secret` as Basic credentials.',
  examples: [
    { sid: 'SK0123456789abcdef0123456789abcdef', name: 'webhooks', secret: '4f0c3b2a1e9d8c7b6a5f4e3d2c1b0a99', created_at: '2026-11-28T09:30:00.000Z' },
  ],
});

export const apiKeyList = component(z.strictObject({ keys: z.array(apiKey), next_page_token: pageToken }), { id: 'ApiKeyList' });

export const secondaryAuthToken = component(z.strictObject({ secondary_auth_token: secret }), {
  id: 'SecondaryAuthToken',
  examples: [{ secondary_auth_token: '8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d' }],
});

export const promoted = component(z.strictObject({ promoted: z.literal(true) }), { id: 'Promoted' });

export const application = component(
  z.strictObject({
    application_id: z.uuid(),
    account_sid: accountSid,
    name,
    algorithm: z.enum(['RS256', 'EdDSA']).meta({ description: "what the application's JWTs are signed with, from its key's type" }),
    public_key: z.string().meta({ description: 'PEM (SPKI)' }),
    created_at: timestamp,
  }),
  {
    id: 'Application',
    description: 'An application: its JWTs (signed with its private key) authenticate as the account.',
    examples: [
      {
        application_id: '2f1e7c9a-5b3d-4e8f-9a1b-0c2d3e4f5a6b',
        account_sid: 'AC0123456789abcdef0123456789abcdef',
        name: 'voice',
        algorithm: 'EdDSA',
        public_key: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA…\n-----END PUBLIC KEY-----\n',
        created_at: '2026-11-28T09:30:00.000Z',
      },
    ],
  },
);

export const applicationList = component(z.strictObject({ applications: z.array(application), next_page_token: pageToken }), { id: 'ApplicationList' });

export const accountEvent = component(
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    type: z.enum([
      'api_key.created',
      'api_key.deleted',
      'application.created',
      'application.deleted',
      'auth_token.secondary_created',
      'auth_token.promoted',
      'auth_token.secondary_deleted',
      'media_protection.changed',
      'media_protection.protected_existing',
      'retention.changed',
      'share_link.created',
      'share_link.deleted',
      'upload.started',
      'upload.completed',
    ]),
    detail: z.record(z.string(), z.unknown()).meta({ description: 'what changed (never a secret)' }),
    created_at: timestamp,
  }),
  {
    id: 'AccountEvent',
    examples: [{ id: '1042', type: 'media_protection.changed', detail: { kind: 'message', enabled: true }, created_at: '2026-11-28T09:30:00.000Z' }],
  },
);

export const eventList = component(z.strictObject({ events: z.array(accountEvent), next_page_token: pageToken }), {
  id: 'AccountEventList',
  description: 'A page of events, newest first.',
});

const shareLinkSid = z.string().regex(new RegExp(`^SL${SID_HEX}$`)).meta({ examples: ['SL0123456789abcdef0123456789abcdef'] });
const shareLinkFields = {
  sid: shareLinkSid,
  media_sid: mediaSid,
  expires_at: timestamp,
  max_uses: z.int().min(1).max(1_000_000).nullable().meta({ description: 'null: unlimited' }),
  uses: z.int().nonnegative().meta({ description: 'GETs answered with a redirect or the bytes (unlimited links: written within seconds)' }),
  last_used_at: timestamp.nullable(),
  disposition: z.enum(['inline', 'attachment']),
  label: z.string().min(1).max(100).nullable(),
  created_at: timestamp,
  created_by: z.string().regex(new RegExp(`^(AC${SID_HEX}|SK${SID_HEX}|${UUID_LOWER})$`)).meta({ description: "the credential that created it: the account sid (auth token), a key sid or an application id; the link dies with that key or application" }),
};

export const shareLink = component(z.strictObject(shareLinkFields), {
  id: 'ShareLink',
  description: 'A share link, without its URL (shown only when it is created).',
});

export const shareLinkCreated = component(
  z.strictObject({ ...shareLinkFields, url: z.url().meta({ description: '`{PUBLIC_BASE_URL}/s/{token}`: shown this once (only a digest of the token is stored)' }) }),
  {
    id: 'ShareLinkCreated',
    description: 'A new share link, with its URL.',
    examples: [
      {
        sid: 'SL0123456789abcdef0123456789abcdef',
        media_sid: 'ME0123456789abcdef0123456789abcdef',
        url: 'https://media.example.com/s/m7Qw1tq0fUo2M1V3YbdJYxk3sd6m3u7w3PwYtIcI2lE',
        expires_at: '2026-12-11T09:30:00.000Z',
        max_uses: null,
        uses: 0,
        last_used_at: null,
        disposition: 'inline',
        label: 'voicemail for Ana',
        created_at: '2026-12-04T09:30:00.000Z',
        created_by: 'AC0123456789abcdef0123456789abcdef',
      },
    ],
  },
);

export const shareLinkList = component(z.strictObject({ share_links: z.array(shareLink), next_page_token: pageToken }), {
  id: 'ShareLinkList',
  description: 'A page of share links, newest first.',
});

export const uploadStarted = component(
  z.strictObject({
    upload_id: z.string().regex(new RegExp(`^UP${SID_HEX}$`)),
    url: z.url().meta({ description: 'the store URL to PUT the bytes to' }),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).meta({ description: 'the headers the PUT must carry, exactly (they are signed): Content-Type, Content-Length, and with a sha256 on S3 x-amz-checksum-sha256' }),
    expires_at: timestamp.meta({ description: 'when the URL stops taking the PUT' }),
  }),
  {
    id: 'UploadStarted',
    description: 'A direct upload: PUT the bytes to `url` with `headers`, then complete it.',
    examples: [
      {
        upload_id: 'UP0123456789abcdef0123456789abcdef',
        url: 'https://bucket.s3.amazonaws.com/AC0123456789abcdef0123456789abcdef/ME0123456789abcdef0123456789abcdef?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Signature=…',
        method: 'PUT',
        headers: { 'Content-Type': 'audio/wav', 'Content-Length': '482044' },
        expires_at: '2026-12-04T09:45:00.000Z',
      },
    ],
  },
);

export const consoleSession = component(
  z.strictObject({
    account_sid: accountSid,
    csrf_token: z.string().regex(/^[A-Za-z0-9_-]{32}$/).meta({ description: "send it as `X-CSRF-Token` with every call the console's page makes" }),
    expires_at: timestamp,
  }),
  { id: 'ConsoleSession', description: 'A console session (its id is only in the HttpOnly cookie).' },
);

export const health = component(z.strictObject({ status: z.literal('ok') }), { id: 'Health' });
const readinessCheck = z.strictObject({
  ok: z.boolean(),
  detail: z.string().optional().meta({ description: "why not, in the failing part's own words" }),
});
const readinessChecks = z
  .strictObject({
    serving: readinessCheck,
    database: readinessCheck,
    migrations: readinessCheck,
    invalidation_feed: readinessCheck,
    object_store: readinessCheck,
  })
  .meta({
    description:
      'serving: not shutting down; database: it answers; migrations: all applied; invalidation_feed: LISTEN connected (revocations are heard); object_store: it answers and takes the credentials (checked at most every 5 s)',
  });

export const readiness = component(z.strictObject({ status: z.literal('ready'), checks: readinessChecks }), { id: 'Readiness' });

export const notReady = component(
  z.strictObject({
    error: z.strictObject({ status: z.literal(503), code: z.literal('service_unavailable'), message: z.string() }),
    checks: readinessChecks,
  }),
  {
    id: 'NotReady',
    description: 'The error body of a 503, with every check beside it; the message names the failed ones.',
    examples: [
      {
        error: { status: 503, code: 'service_unavailable', message: 'not ready: invalidation_feed (LISTEN is not connected: revocations could be missed)' },
        checks: {
          serving: { ok: true },
          database: { ok: true },
          migrations: { ok: true },
          invalidation_feed: { ok: false, detail: 'LISTEN is not connected: revocations could be missed' },
          object_store: { ok: true },
        },
      },
    ],
  },
);
