import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { inject } from 'vitest';
import type { Config } from '../../src/config.js';
import { parseConfig } from '../../src/config.js';
import { readMigrations } from '../../src/db/migrate.js';
import { createPool, type Db } from '../../src/db/pool.js';
import { createAccount } from '../../src/domain/accounts.js';
import { createAuthenticator, type AuthenticatorOptions } from '../../src/domain/credentials.js';
import { localInvalidation, startInvalidationFeed } from '../../src/main.js';
import { MediaCache } from '../../src/domain/media-cache.js';
import { SignedUrlCache } from '../../src/domain/signed-url-cache.js';
import { AuthThrottle, DEFAULT_THROTTLE } from '../../src/domain/auth-throttle.js';
import type { InvalidationListener } from '../../src/db/notifications.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { createS3Store } from '../../src/storage/s3.js';
import { loadCloudFrontPrivateKey, withCloudFrontUrls } from '../../src/storage/cloudfront.js';
import type { Store } from '../../src/storage/store.js';
import type Router from '@koa/router';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blobRoutes } from '../../src/http/routes/blobs.js';
import { createLocalStore } from '../../src/storage/local.js';
import { openKeyring, type Keyring } from '../../src/storage/signing-keys.js';

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export function testS3Store(endpoint = inject('s3Endpoint')): Store {
  return createS3Store({
    bucket: inject('s3Bucket'),
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
  });
}

export interface TestService {
  baseUrl: string;
  db: Db;
  store: Store;
  config: Config;
  server: Server;
  logLines: string[];
  feed: InvalidationListener;
  /** the local store's signing keys (storeKind 'local' only) */
  keyring: Keyring | undefined;
  close(): Promise<void>;
}

export interface ServiceOptions {
  env?: Record<string, string>;
  /**
   * 's3' (default): the shared s3rver; 'local': a local store in dataDir; 'cloudfront':
   * the shared s3rver with CloudFront signed URLs, from the CLOUDFRONT_* variables in env
   */
  storeKind?: 's3' | 'local' | 'cloudfront';
  /** for 'local': where objects and keys live (default: a new temporary directory) */
  dataDir?: string;
  clock?: () => Date;
  authenticator?: Partial<AuthenticatorOptions>;
  /** false: no media cache (every redirect reads the database) */
  mediaCache?: false;
  /** default: the shared test database */
  databaseUrl?: string;
  /** for storeKind 's3': another S3 server than the shared one */
  s3Endpoint?: string;
}

/** The real app on a real socket, over the shared test PostgreSQL and S3 server. */
export async function startService(options: ServiceOptions = {}): Promise<TestService> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = parseConfig({ PUBLIC_BASE_URL: baseUrl, AUTH_FAILURE_LIMIT: '100000', ...options.env, PORT: String(port) });
  const databaseUrl = options.databaseUrl ?? inject('databaseUrl');
  const db = createPool(databaseUrl, { max: 20 });
  const clock = options.clock ?? (() => new Date());
  let store: Store;
  let extraRoutes: ((router: Router) => void) | undefined;
  let keyring: Keyring | undefined;
  if (options.storeKind === 'local') {
    const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'mg-local-')));
    keyring = await openKeyring(path.join(dataDir, 'keys'), 100);
    const local = createLocalStore({ dir: path.join(dataDir, 'objects'), keyring, baseUrl: config.blobBaseUrl });
    store = local;
    extraRoutes = (router) => blobRoutes(router, { store: local, clock });
  } else {
    store = testS3Store(options.s3Endpoint);
    if (options.storeKind === 'cloudfront') {
      // What openStore builds in production when CLOUDFRONT_* are set.
      if (!config.cloudFront) throw new Error("storeKind 'cloudfront' needs CLOUDFRONT_URL, _KEY_PAIR_ID and _PRIVATE_KEY_FILE in env");
      store = withCloudFrontUrls(store, { ...config.cloudFront, privateKey: await loadCloudFrontPrivateKey(config.cloudFront.privateKeyFile) });
    }
  }
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  // Tests send many bad credentials from 127.0.0.1 on purpose; throttling has its own tests.
  const throttle = new AuthThrottle({ ...DEFAULT_THROTTLE, maxFailures: config.authFailureLimit });
  const authenticator = createAuthenticator({ db, clock, throttle, ...options.authenticator });
  const caches = { authenticator, mediaCache: new MediaCache() };
  // mediaCache: false keeps the app from using it (the feed still has one to invalidate).
  const mediaCache = options.mediaCache === false ? undefined : caches.mediaCache;
  const feed = startInvalidationFeed(databaseUrl, caches, createLogger('silent'));
  const app = createApp({
    config,
    db,
    store,
    authenticator,
    log: createLogger('info', sink),
    metrics: createMetrics({ defaultMetrics: false }),
    migrations: await readMigrations(),
    clock,
    extraRoutes,
    mediaCache,
    urlCache: mediaCache ? new SignedUrlCache(config.mediaUrlTtlSeconds) : undefined,
    invalidate: localInvalidation(caches),
  });
  server.on('request', app.callback());
  return {
    baseUrl,
    db,
    store,
    config,
    server,
    logLines,
    feed,
    keyring,
    async close() {
      await feed.close();
      server.closeAllConnections();
      server.close();
      await store.close();
      await db.end();
    },
  };
}

export interface TestAccount {
  sid: string;
  authToken: string;
  basic: string;
}

export async function newAccount(db: Db, name = 'test'): Promise<TestAccount> {
  const a = await createAccount(db, name);
  return { sid: a.sid, authToken: a.auth_token, basic: basicAuth(a.sid, a.auth_token) };
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface UploadOptions {
  kind?: string;
  filename?: string;
  contentType?: string;
  auth?: string;
  applicationId?: string;
}

export async function upload(
  svc: Pick<TestService, 'baseUrl'>,
  account: TestAccount,
  body: Uint8Array | string,
  options: UploadOptions = {},
): Promise<Response> {
  const q = new URLSearchParams({ kind: options.kind ?? 'message' });
  if (options.filename !== undefined) q.set('filename', options.filename);
  if (options.applicationId !== undefined) q.set('application_id', options.applicationId);
  const headers: Record<string, string> = { Authorization: options.auth ?? account.basic };
  if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
  return fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media?${q}`, { method: 'POST', headers, body });
}

export async function uploadJson(
  svc: Pick<TestService, 'baseUrl'>,
  account: TestAccount,
  body: Uint8Array | string,
  options: UploadOptions = {},
): Promise<MediaJson> {
  const res = await upload(svc, account, body, options);
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as MediaJson;
}

export interface MediaJson {
  sid: string;
  account_sid: string;
  kind: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  filename: string | null;
  created_at: string;
  requires_auth: boolean;
  application_id: string | null;
  url: string;
}

export async function setProtection(
  svc: Pick<TestService, 'baseUrl'>,
  account: TestAccount,
  changes: Record<string, boolean>,
): Promise<Response> {
  return fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/settings/media-protection`, {
    method: 'PATCH',
    headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
    body: JSON.stringify(changes),
  });
}

/** Follows no redirect: the tests look at the 302 itself. */
export function getMediaUrl(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', ...init });
}
