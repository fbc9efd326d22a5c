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
  readonly publicBaseUrl: string;
  readonly mediaUrlTtlSeconds: number;
  readonly mediaMaxBytes: number;
  readonly dataDir: string;
  readonly trustProxy: boolean;
  readonly logLevel: LogLevel;
  readonly workers: number;
  readonly shutdownTimeoutSeconds: number;
  /** failed authentications per minute, per client address and per credential, before 429 */
  readonly authFailureLimit: number;
}

export interface S3Config {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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
  PUBLIC_BASE_URL: httpUrl.optional(),
  MEDIA_URL_TTL_SECONDS: integer(1, MAX_URL_TTL_SECONDS).default(14_400),
  MEDIA_MAX_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(104_857_600),
  DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  TRUST_PROXY: flag.default(false),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  WORKERS: integer(1, 64).default(1),
  SHUTDOWN_TIMEOUT_SECONDS: integer(0, 3600).default(25),
  AUTH_FAILURE_LIMIT: integer(1, 1_000_000).default(30),
});

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
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    s3: s3 && Object.freeze(s3),
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://${hostForUrl}:${e.PORT}`).replace(/\/+$/, ''),
    mediaUrlTtlSeconds: e.MEDIA_URL_TTL_SECONDS,
    mediaMaxBytes: e.MEDIA_MAX_BYTES,
    dataDir: path.resolve(e.DATA_DIR),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    workers: e.WORKERS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    authFailureLimit: e.AUTH_FAILURE_LIMIT,
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
