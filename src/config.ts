import path from 'node:path';
import { z } from 'zod';

// The SigV4 maximum: a presigned URL cannot live longer than 7 days.
export const MAX_URL_TTL_SECONDS = 604_800;

export interface Config {
  readonly port: number;
  readonly host: string;
  /** undefined: run an embedded PostgreSQL under dataDir/postgres */
  readonly databaseUrl: string | undefined;
  /** undefined: the local-disk store under dataDir/objects */
  readonly s3: S3Config | undefined;
  /** set (S3 only): media URLs are signed URLs of this CloudFront distribution */
  readonly cloudFront?: CloudFrontConfig | undefined;
  readonly publicBaseUrl: string;
  /**
   * PUBLIC_BASE_URL was set: its origin alone (and CORS_ORIGINS) is the service's own, never
   * the origin a request names in its Host header. Unset, the default names one address of
   * several a browser may use (localhost, 127.0.0.1), and the request's own origin counts.
   */
  readonly publicBaseUrlSet: boolean;
  readonly mediaUrlTtlSeconds: number;
  readonly mediaMaxBytes: number;
  readonly dataDir: string;
  readonly trustProxy: boolean;
  readonly logLevel: LogLevel;
  /** which requests get an access line: all, errors (status ≥ 400) or none */
  readonly logAccess: LogAccess;
  readonly workers: number;
  /** after SIGTERM: not ready at once, but still serving this long, so load balancers move away first */
  readonly shutdownDelaySeconds: number;
  /** then: how long in-flight requests have to finish */
  readonly shutdownTimeoutSeconds: number;
  /** failed authentications per minute, per client address and per credential, before 429 */
  readonly authFailureLimit: number;
  /** origin the local store's blob URLs are built on (a separate origin in production) */
  readonly blobBaseUrl: string;
  /** browser origins allowed by CORS, and whose state-changing requests are accepted */
  readonly corsOrigins: readonly string[];
  /** set: /metrics requires `Authorization: Bearer <token>` */
  readonly metricsToken: string | undefined;
  /** open connections at most; further ones are refused by the socket server */
  readonly maxConnections: number;
  /** redirect: 302 to a signed URL; proxy: the service streams the bytes itself */
  readonly mediaDelivery: 'redirect' | 'proxy';
  /** the longest a share link may live */
  readonly shareLinkMaxSeconds: number;
  /** what a store URL handed out for a share link lives: a revoked link's URLs die that soon */
  readonly shareUrlTtlSeconds: number;
  /** what a direct upload's PUT URL lives */
  readonly uploadUrlTtlSeconds: number;
  readonly limits: Limits;
}

/** Bounds on time, memory and abuse, each with its variable (docs/configuration.md). */
export interface Limits {
  /** verified credentials and media rows are trusted without the database at most this long */
  readonly cacheSeconds: number;
  /** what each in-memory cache (credentials, media rows, signed URLs) holds at most */
  readonly cacheEntries: number;
  /** a signed URL is reused for the same media at most this long (never more than a tenth of its lifetime) */
  readonly signedUrlReuseSeconds: number;
  /** clock difference allowed between a JWT's issuer and this service */
  readonly jwtClockSkewSeconds: number;
  /** failed authentications are counted in windows this long */
  readonly authFailureWindowSeconds: number;
  readonly jsonBodyMaxBytes: number;
  readonly jsonBodyTimeoutSeconds: number;
  /** an upload must deliver this much every minute, or it is cut off */
  readonly uploadMinBytesPerMinute: number;
  readonly headersTimeoutSeconds: number;
  /** a whole request, the largest upload on a slow link included */
  readonly requestTimeoutSeconds: number;
  readonly keepAliveTimeoutSeconds: number;
  /** a socket that sends and receives nothing this long is closed */
  readonly idleSocketTimeoutSeconds: number;
  readonly consoleSessionSeconds: number;
  // What one account may hold: each list stays small enough to page through, and no
  // account can fill the database with credentials (409 past a cap; sessions: the
  // oldest ends).
  readonly apiKeysPerAccount: number;
  readonly applicationsPerAccount: number;
  /** live ones: expired, used-up links do not count */
  readonly shareLinksPerAccount: number;
  readonly consoleSessionsPerAccount: number;
}

export interface S3Config {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

export interface CloudFrontConfig {
  /** the distribution's origin, without a trailing slash */
  readonly url: string;
  readonly keyPairId: string;
  /** PEM, RSA; read and checked by openStore */
  readonly privateKeyFile: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const LOG_ACCESS = ['all', 'errors', 'off'] as const;
export type LogAccess = (typeof LOG_ACCESS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const httpUrl = z
  .string()
  .url('must be a URL')
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://');

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');

const schema = z.object({
  PORT: integer(0, 65_535).default(8080),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgres:// URL')
    .optional(),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name').optional(),
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().min(1, 'must not be empty').default('us-east-1'),
  S3_FORCE_PATH_STYLE: flag.optional(),
  CLOUDFRONT_URL: httpUrl.refine((u) => !/[?#]/.test(u), 'must have no query or fragment').optional(),
  CLOUDFRONT_KEY_PAIR_ID: z.string().regex(/^[A-Z0-9]{1,128}$/, 'must be a CloudFront public key id such as K2JCJMDEHXQW5F').optional(),
  CLOUDFRONT_PRIVATE_KEY_FILE: z.string().min(1, 'must not be empty').optional(),
  PUBLIC_BASE_URL: httpUrl.optional(),
  MEDIA_URL_TTL_SECONDS: integer(1, MAX_URL_TTL_SECONDS).default(14_400),
  MEDIA_MAX_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(104_857_600),
  DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  TRUST_PROXY: flag.default(false),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  LOG_ACCESS: z.enum(LOG_ACCESS).default('all'),
  WORKERS: integer(1, 64).default(1),
  SHUTDOWN_DELAY_SECONDS: integer(0, 3600).default(5),
  SHUTDOWN_TIMEOUT_SECONDS: integer(0, 3600).default(25),
  AUTH_FAILURE_LIMIT: integer(1, 1_000_000).default(30),
  BLOB_BASE_URL: httpUrl.optional(),
  CORS_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter((o) => o !== ''))
    .pipe(z.array(z.string().refine(isOrigin, 'must list origins such as https://app.example.com, comma-separated')))
    .default([]),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  MAX_CONNECTIONS: integer(1, 1_000_000).default(10_000),
  MEDIA_DELIVERY: z.enum(['redirect', 'proxy']).default('redirect'),
  SHARE_LINK_MAX_SECONDS: integer(60, 10 * 365 * 86_400).default(2_592_000),
  SHARE_URL_TTL_SECONDS: integer(1, MAX_URL_TTL_SECONDS).optional(),
  UPLOAD_URL_TTL_SECONDS: integer(60, MAX_URL_TTL_SECONDS).default(900),
  CACHE_SECONDS: integer(0, 3600).default(30),
  CACHE_ENTRIES: integer(1, 10_000_000).default(20_000),
  SIGNED_URL_REUSE_SECONDS: integer(0, 3600).default(60),
  JWT_CLOCK_SKEW_SECONDS: integer(0, 600).default(30),
  AUTH_FAILURE_WINDOW_SECONDS: integer(1, 86_400).default(60),
  JSON_BODY_MAX_BYTES: integer(1024, 16 * 2 ** 20).default(64 * 1024),
  JSON_BODY_TIMEOUT_SECONDS: integer(1, 600).default(10),
  UPLOAD_MIN_BYTES_PER_MINUTE: integer(0, 2 ** 30).default(64 * 1024),
  HEADERS_TIMEOUT_SECONDS: integer(1, 600).default(20),
  REQUEST_TIMEOUT_SECONDS: integer(1, 86_400).default(3600),
  KEEP_ALIVE_TIMEOUT_SECONDS: integer(1, 600).default(5),
  IDLE_SOCKET_TIMEOUT_SECONDS: integer(1, 86_400).default(120),
  CONSOLE_SESSION_SECONDS: integer(60, 30 * 86_400).default(12 * 3600),
  API_KEYS_PER_ACCOUNT: integer(1, 100_000).default(100),
  APPLICATIONS_PER_ACCOUNT: integer(1, 100_000).default(100),
  SHARE_LINKS_PER_ACCOUNT: integer(1, 10_000_000).default(10_000),
  CONSOLE_SESSIONS_PER_ACCOUNT: integer(1, 1000).default(10),
}).superRefine((e, ctx) => {
  requireCloudFrontTogether(e, ctx);
  requireShareUrlTtlWithinMediaUrlTtl(e, ctx);
});

const CLOUDFRONT_VARIABLES = ['CLOUDFRONT_URL', 'CLOUDFRONT_KEY_PAIR_ID', 'CLOUDFRONT_PRIVATE_KEY_FILE'] as const;

// A partial CloudFront setup must stop the process, not quietly serve S3 URLs; and
// CloudFront delivers the S3 bucket's objects, so it needs S3. Zod runs this check even
// when other variables are bad, so every problem is still reported at once.
function requireCloudFrontTogether(e: Partial<Record<string, unknown>>, ctx: z.RefinementCtx): void {
  const given = CLOUDFRONT_VARIABLES.filter((name) => e[name] !== undefined);
  if (given.length === 0) return;
  for (const name of CLOUDFRONT_VARIABLES) {
    if (e[name] === undefined) ctx.addIssue({ code: 'custom', path: [name], message: `must be set with ${given.join(' and ')}` });
  }
  if (e.S3_BUCKET === undefined) {
    ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: `must be set for CloudFront delivery (${given.join(', ')} given)` });
  }
}

// A share link's store URL is a media URL's, shorter: 60 s (or the media URL's lifetime,
// if shorter) to MEDIA_URL_TTL_SECONDS.
function requireShareUrlTtlWithinMediaUrlTtl(e: { SHARE_URL_TTL_SECONDS?: number; MEDIA_URL_TTL_SECONDS: number }, ctx: z.RefinementCtx): void {
  const ttl = e.SHARE_URL_TTL_SECONDS;
  if (ttl === undefined || typeof e.MEDIA_URL_TTL_SECONDS !== 'number') return;
  const min = Math.min(60, e.MEDIA_URL_TTL_SECONDS);
  if (ttl < min || ttl > e.MEDIA_URL_TTL_SECONDS) {
    ctx.addIssue({ code: 'custom', path: ['SHARE_URL_TTL_SECONDS'], message: `must be from ${min} to MEDIA_URL_TTL_SECONDS (${e.MEDIA_URL_TTL_SECONDS})` });
  }
}

/** scheme://host[:port] exactly, as browsers send it in the Origin header. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return /^https?:$/.test(u.protocol) && u.origin === value;
  } catch {
    return false;
  }
}

/** Parses the environment once; throws ConfigError listing every bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const picked = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k]]));
  const result = schema.safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const name = String(i.path[0]);
      // The database URL may carry a password: never echo it.
      const shown =
        env[name] === undefined || name === 'DATABASE_URL' ? '' : ` (got ${JSON.stringify(truncate(env[name]!))})`;
      return `${name} ${i.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  const e = result.data;
  const hostForUrl = e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST;
  const s3: S3Config | undefined =
    e.S3_BUCKET === undefined
      ? undefined
      : {
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          // Custom endpoints (MinIO, s3rver, R2 with account URLs) mostly need path style.
          forcePathStyle: e.S3_FORCE_PATH_STYLE ?? e.S3_ENDPOINT !== undefined,
        };
  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://${hostForUrl}:${e.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    s3: s3 && Object.freeze(s3),
    cloudFront:
      e.CLOUDFRONT_URL === undefined || e.CLOUDFRONT_KEY_PAIR_ID === undefined || e.CLOUDFRONT_PRIVATE_KEY_FILE === undefined
        ? undefined
        : Object.freeze({
            url: e.CLOUDFRONT_URL.replace(/\/+$/, ''),
            keyPairId: e.CLOUDFRONT_KEY_PAIR_ID,
            privateKeyFile: path.resolve(e.CLOUDFRONT_PRIVATE_KEY_FILE),
          }),
    publicBaseUrl,
    publicBaseUrlSet: e.PUBLIC_BASE_URL !== undefined,
    mediaUrlTtlSeconds: e.MEDIA_URL_TTL_SECONDS,
    mediaMaxBytes: e.MEDIA_MAX_BYTES,
    dataDir: path.resolve(e.DATA_DIR),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    logAccess: e.LOG_ACCESS,
    workers: e.WORKERS,
    shutdownDelaySeconds: e.SHUTDOWN_DELAY_SECONDS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    authFailureLimit: e.AUTH_FAILURE_LIMIT,
    blobBaseUrl: e.BLOB_BASE_URL?.replace(/\/+$/, '') ?? publicBaseUrl,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    metricsToken: e.METRICS_TOKEN,
    maxConnections: e.MAX_CONNECTIONS,
    mediaDelivery: e.MEDIA_DELIVERY,
    shareLinkMaxSeconds: e.SHARE_LINK_MAX_SECONDS,
    shareUrlTtlSeconds: e.SHARE_URL_TTL_SECONDS ?? Math.min(300, e.MEDIA_URL_TTL_SECONDS),
    uploadUrlTtlSeconds: e.UPLOAD_URL_TTL_SECONDS,
    limits: Object.freeze({
      cacheSeconds: e.CACHE_SECONDS,
      cacheEntries: e.CACHE_ENTRIES,
      signedUrlReuseSeconds: e.SIGNED_URL_REUSE_SECONDS,
      jwtClockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
      authFailureWindowSeconds: e.AUTH_FAILURE_WINDOW_SECONDS,
      jsonBodyMaxBytes: e.JSON_BODY_MAX_BYTES,
      jsonBodyTimeoutSeconds: e.JSON_BODY_TIMEOUT_SECONDS,
      uploadMinBytesPerMinute: e.UPLOAD_MIN_BYTES_PER_MINUTE,
      headersTimeoutSeconds: e.HEADERS_TIMEOUT_SECONDS,
      requestTimeoutSeconds: e.REQUEST_TIMEOUT_SECONDS,
      keepAliveTimeoutSeconds: e.KEEP_ALIVE_TIMEOUT_SECONDS,
      idleSocketTimeoutSeconds: e.IDLE_SOCKET_TIMEOUT_SECONDS,
      consoleSessionSeconds: e.CONSOLE_SESSION_SECONDS,
      apiKeysPerAccount: e.API_KEYS_PER_ACCOUNT,
      applicationsPerAccount: e.APPLICATIONS_PER_ACCOUNT,
      shareLinksPerAccount: e.SHARE_LINKS_PER_ACCOUNT,
      consoleSessionsPerAccount: e.CONSOLE_SESSIONS_PER_ACCOUNT,
    }),
  });
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** What the service tells operators about its database, without the password. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}
