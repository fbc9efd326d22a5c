import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, inject } from 'vitest';
import { parseConfig, type Config } from '../../src/config.js';
import { findFreePort } from '../../src/db/embedded.js';
import type { Invalidation, InvalidationFeed } from '../../src/db/notifications.js';
import type { Db } from '../../src/db/pool.js';
import { createAccount } from '../../src/domain/accounts.js';
import type { Scheduler } from '../../src/scheduler.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { buildService, type Service } from '../../src/service.js';
import { createS3Store } from '../../src/storage/s3.js';
import type { Keyring } from '../../src/storage/signing-keys.js';
import type { Store } from '../../src/storage/store.js';
import type { components } from '../../console/api-types.js';
import { startCloudFrontEdge, type CloudFrontEdge } from './cloudfront-edge.js';

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The shared S3 test server's bucket, opened directly (to look at objects behind the service's back). */
export function testS3Store(endpoint = inject('s3Endpoint')): Store {
  return createS3Store({
    bucket: inject('s3Bucket'),
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
  });
}

/** Whether a store holds an object (reads its first byte, then lets go). */
export async function objectExists(store: Store, key: string): Promise<boolean> {
  const body = await store.read(key, { start: 0, end: 0 });
  body?.destroy();
  return body !== undefined;
}

export interface TestService {
  baseUrl: string;
  db: Db;
  store: Store;
  config: Config;
  server: Server;
  logLines: string[];
  feed: InvalidationFeed;
  /** the local store's signing keys (storeKind 'local' only) */
  keyring: Keyring | undefined;
  service: Service;
  /** resolves with the first log line (parsed) that matches, already written or still to come */
  logLine(matches: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** resolves with the next invalidation for the account that reaches this instance by NOTIFY */
  nextInvalidation(accountSid: string): Promise<Invalidation>;
  /** storeKind 'cloudfront': the distribution it delivers through */
  cloudFront: TestCloudFront | undefined;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** added to the environment the configuration is parsed from */
  env?: Record<string, string>;
  /**
   * 's3' (default): the shared s3rver; 'local': a local store in dataDir; 'cloudfront':
   * the shared s3rver delivered through a test edge that checks CloudFront's signed URLs
   * (on the service's clock), with a key pair of its own
   */
  storeKind?: 's3' | 'local' | 'cloudfront';
  /** for 'local': where objects and keys live (default: a new temporary directory) */
  dataDir?: string;
  clock?: () => Date;
  /** false: no media and URL caches (every redirect reads the database) */
  caches?: false;
  /** default: the shared test database */
  databaseUrl?: string;
  /** for storeKind 's3': another S3 server than the shared one */
  s3Endpoint?: string;
  /** the service's timers (default: Node's); a ManualScheduler lets the test move time */
  scheduler?: Scheduler;
}

/**
 * The service as `mediagate serve` builds it (src/service.ts: app, HTTP server and its
 * limits, caches, invalidation feed), on a real socket, over the shared test PostgreSQL
 * and S3 server.
 */
export async function startService(options: ServiceOptions = {}): Promise<TestService> {
  const port = await findFreePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const cloudFront = options.storeKind === 'cloudfront' ? await startTestCloudFront(options.clock) : undefined;
  const storeEnv: Record<string, string> =
    options.storeKind === 'local'
      ? { DATA_DIR: options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'mg-local-'))) }
      : { S3_BUCKET: inject('s3Bucket'), S3_ENDPOINT: options.s3Endpoint ?? inject('s3Endpoint'), S3_FORCE_PATH_STYLE: '1', ...cloudFront?.env };
  const config = parseConfig({
    PUBLIC_BASE_URL: baseUrl,
    DATABASE_URL: options.databaseUrl ?? inject('databaseUrl'),
    // Tests send many bad credentials from 127.0.0.1 on purpose; throttling has its own tests.
    AUTH_FAILURE_LIMIT: '100000',
    ...storeEnv,
    ...options.env,
    HOST: '127.0.0.1',
    PORT: String(port),
  });
  const logLines: string[] = [];
  const logWaiters: { matches: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      const line = JSON.parse(String(chunk)) as Record<string, unknown>;
      for (let i = logWaiters.length - 1; i >= 0; i--) {
        if (logWaiters[i]!.matches(line)) logWaiters.splice(i, 1)[0]!.resolve(line);
      }
      cb();
    },
  });
  const waiting: { accountSid: string; resolve: (i: Invalidation) => void }[] = [];
  const service = await buildService(config, createLogger('info', sink), {
    clock: options.clock,
    metrics: createMetrics({ defaultMetrics: false }),
    caches: options.caches ?? true,
    scheduler: options.scheduler,
    periodicJobs: false,
    onInvalidation(invalidation) {
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i]!.accountSid === invalidation.accountSid) waiting.splice(i, 1)[0]!.resolve(invalidation);
      }
    },
  });
  await service.listen();
  // Caches are trusted only once LISTEN is in place: tests start from there.
  await service.feed.ready();
  return {
    baseUrl,
    db: service.resources.db,
    store: service.resources.store!,
    config,
    server: service.server,
    logLines,
    feed: service.feed,
    keyring: service.resources.keyring,
    service,
    logLine(matches) {
      const seen = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find(matches);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => logWaiters.push({ matches, resolve }));
    },
    nextInvalidation: (accountSid) => new Promise((resolve) => waiting.push({ accountSid, resolve })),
    cloudFront,
    async close() {
      await service.stop();
      await cloudFront?.close();
    },
  };
}

export interface TestCloudFront {
  edge: CloudFrontEdge;
  keyPairId: string;
  /** CLOUDFRONT_URL, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_FILE for this edge */
  env: Record<string, string>;
  /** a directory of its own, removed by close() */
  dir: string;
  close(): Promise<void>;
}

const CLOUDFRONT_KEY_PAIR_ID = 'K2JCJMDEHXQW5F';

/** A distribution (the test edge over the shared bucket) trusting a new RSA key pair. */
export async function startTestCloudFront(clock?: () => Date): Promise<TestCloudFront> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = await mkdtemp(path.join(tmpdir(), 'mg-cdn-'));
  const keyFile = path.join(dir, 'cloudfront.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  const edge = await startCloudFrontEdge({
    origin: { endpoint: inject('s3Endpoint'), bucket: inject('s3Bucket'), credentials: S3_CREDENTIALS },
    trustedKeys: { [CLOUDFRONT_KEY_PAIR_ID]: publicKey },
    clock,
  });
  return {
    edge,
    keyPairId: CLOUDFRONT_KEY_PAIR_ID,
    env: { CLOUDFRONT_URL: edge.baseUrl, CLOUDFRONT_KEY_PAIR_ID, CLOUDFRONT_PRIVATE_KEY_FILE: keyFile },
    dir,
    async close() {
      await edge.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The service a test file's tests share: started before them (beforeAll) and closed
 * after (afterAll). Used before it started (outside a test or hook), it throws.
 */
export function serviceForFile(options: ServiceOptions = {}): TestService {
  let started: TestService | undefined;
  beforeAll(async () => {
    started = await startService(options);
  });
  afterAll(() => started?.close());
  return new Proxy({} as TestService, {
    get(_target, key) {
      if (!started) throw new Error("the file's service was used before beforeAll started it");
      return Reflect.get(started, key);
    },
  });
}

/**
 * Services a test file starts as its tests need them (each with options of its own), all
 * closed after the file's tests (afterAll).
 */
export function servicesForFile(): (options?: ServiceOptions) => Promise<TestService> {
  const started: TestService[] = [];
  afterAll(async () => {
    for (const s of started) await s.close();
  });
  return async (options = {}) => {
    const s = await startService(options);
    started.push(s);
    return s;
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
  /** default: what fetch sends for the body (text/plain for a string), else application/octet-stream */
  contentType?: string;
  auth?: string;
  applicationId?: string;
  /** aborts the upload (AbortSignal.timeout: a bound on a failure) */
  signal?: AbortSignal;
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
  // An untyped body is refused (415); fetch types a string as text/plain itself.
  else if (typeof body !== 'string') headers['Content-Type'] = 'application/octet-stream';
  return fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media?${q}`, { method: 'POST', headers, body, signal: options.signal });
}

/** An upload that must succeed: its media. */
export async function uploadJson(...args: Parameters<typeof upload>): Promise<MediaJson> {
  const res = await upload(...args);
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as MediaJson;
}

/** A media as the API answers it: the OpenAPI document's schema (test/support/api-types.ts). */
export type MediaJson = components['schemas']['Media'];

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

export interface AccountWithMedia {
  owner: TestAccount;
  /** uploaded before protection was turned on: public (a JPEG, legacy.jpg) */
  legacy: MediaJson;
  legacyBytes: Buffer;
  /** uploaded after: requires credentials (a PNG) */
  protectedMedia: MediaJson;
  protectedBytes: Buffer;
}

/** A new account with a legacy media, then message protection on and a protected media. */
export async function accountWithMedia(
  svc: TestService,
  options: { name?: string; legacySize?: number; protectedSize?: number; protectedFilename?: string } = {},
): Promise<AccountWithMedia> {
  const owner = await newAccount(svc.db, options.name ?? 'owner');
  const legacyBytes = randomBytes(options.legacySize ?? 3000);
  const protectedBytes = randomBytes(options.protectedSize ?? 5000);
  const legacy = await uploadJson(svc, owner, legacyBytes, { contentType: 'image/jpeg', filename: 'legacy.jpg' });
  const protecting = await setProtection(svc, owner, { message: true });
  if (protecting.status !== 200) throw new Error(`turning protection on answered ${protecting.status}`);
  const protectedMedia = await uploadJson(svc, owner, protectedBytes, { contentType: 'image/png', filename: options.protectedFilename ?? 'photo.png' });
  if (legacy.requires_auth || !protectedMedia.requires_auth) throw new Error('protection did not apply as expected');
  return { owner, legacy, legacyBytes, protectedMedia, protectedBytes };
}
