import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/pool.js';
import { findAuthTokens } from '../db/queries/accounts.js';
import { findApiKeySecret } from '../db/queries/keys.js';
import { findApplicationForJwt, type Application } from './applications.js';
import { AuthThrottle } from './auth-throttle.js';
import { parseAuthorization, type ParsedAuthorization } from './authorization-header.js';
import { Forbidden, InvalidCredentials, TooManyRequests } from './errors.js';
import { isSid, normalizeApplicationId } from './ids.js';
import type { Principal } from './principal.js';
import { digestsEqual, hashSecret } from './secrets.js';

export type { CredentialType, Principal } from './principal.js';

export interface Authenticator {
  /**
   * undefined when there is no Authorization header; InvalidCredentials when it is bad;
   * TooManyRequests when the address or the credential failed too often.
   */
  authenticate(header: string | undefined, clientAddress: string): Promise<Principal | undefined>;
  /** the principal of a header verified recently (still cached), without a promise; else undefined */
  cached(header: string): Principal | undefined;
  /** drop what is cached for an account (its credentials changed somewhere) */
  invalidateAccount(accountSid: string): void;
  /**
   * Drops everything, and while untrusted verifies every request against the database:
   * with the invalidation feed down a revocation could not be heard.
   */
  setCacheTrusted(trusted: boolean): void;
}

export interface AuthenticatorOptions {
  db: Db;
  clock?: () => Date;
  throttle?: AuthThrottle;
  /**
   * How long a verified credential is trusted without asking the database again, in
   * case an invalidation notice is missed; revocations normally arrive by NOTIFY at once.
   */
  cacheTtlMillis: number;
  cacheMax: number;
  /** clock difference allowed between a JWT's issuer and this service */
  clockSkewSeconds: number;
  /** told of every failure: invalid credentials, or a refusal of a throttled address or credential */
  onFailure?(reason: 'invalid' | 'throttled'): void;
}

// The contract's JWT rule: exp at most 24 h after iat.
const MAX_JWT_LIFETIME_SECONDS = 24 * 3600;

// A digest to compare against when the sid is unknown, so that an unknown sid and a
// wrong secret take the same work.
const NO_MATCH = hashSecret('no such credential');

/**
 * Verifies credentials, caching successes: the redirect's hot path then costs one
 * SHA-256 of the header and a map lookup, not a database round trip. The cache is keyed
 * by a digest of the whole header, so a wrong secret never matches a cached entry.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { db } = options;
  const clock = options.clock ?? (() => new Date());
  const throttle = options.throttle ?? new AuthThrottle();
  const ttl = options.cacheTtlMillis;
  const cacheMax = options.cacheMax;
  const skew = options.clockSkewSeconds;
  // The caches count time on the injected clock, so tests move it instead of waiting.
  const perf = { now: () => clock().getTime() };
  // (ttl 0 turns caching off; the LRU's own ttl of 0 would mean "forever")
  const cache = new LRUCache<string, Principal>({ max: cacheMax, ttl: Math.max(1, ttl), ttlResolution: 0, perf });
  // Bumped by every invalidation: a credential verified against rows read before a
  // revocation arrived must not be cached after it.
  let generation = 0;
  let trusted = true;
  // Applications' public keys never change once registered; a deleted application is
  // dropped with its account's other credentials (invalidateAccount).
  const applicationKeys = new LRUCache<string, { app: Application; key: KeyObject }>({ max: cacheMax, ttl: Math.max(1, ttl), ttlResolution: 0, perf });

  async function verifyBasic(username: string, password: string): Promise<Principal> {
    const presented = hashSecret(password);
    if (isSid(username, 'AC')) {
      const tokens = await findAuthTokens(db, username);
      let ok = false;
      for (const t of tokens) ok = digestsEqual(presented, t.token_hash) || ok;
      if (tokens.length === 0) digestsEqual(presented, NO_MATCH);
      if (ok) return { accountSid: username, type: 'auth_token', credentialSid: username };
    } else if (isSid(username, 'SK')) {
      const key = await findApiKeySecret(db, username);
      const ok = digestsEqual(presented, key?.secret_hash ?? NO_MATCH) && key !== undefined;
      if (ok) return { accountSid: key.account_sid, type: 'api_key', credentialSid: username };
    }
    throw new InvalidCredentials('invalid credentials');
  }

  async function applicationKey(applicationId: string) {
    const hit = trusted ? applicationKeys.get(applicationId) : undefined;
    if (hit) return hit;
    const readAtGeneration = generation;
    const app = await findApplicationForJwt(db, applicationId);
    if (!app) return undefined;
    const entry = { app, key: createPublicKey(app.publicKey) };
    if (trusted && ttl > 0 && readAtGeneration === generation) applicationKeys.set(applicationId, entry);
    return entry;
  }

  async function verifyBearer(token: string, applicationId: string | undefined): Promise<{ principal: Principal; exp: number }> {
    if (!applicationId) throw new InvalidCredentials('the token names no application_id');
    const entry = await applicationKey(applicationId.toLowerCase());
    if (!entry) throw new InvalidCredentials('invalid credentials');
    let payload;
    try {
      // The algorithm is pinned to the application's key type: `alg: none`, HS256 keyed
      // with the public key, or RS256 against an Ed25519 key are all refused.
      ({ payload } = await jwtVerify(token, entry.key, {
        algorithms: [entry.app.algorithm],
        clockTolerance: skew,
        maxTokenAge: MAX_JWT_LIFETIME_SECONDS + skew,
        requiredClaims: ['iat', 'exp', 'jti', 'application_id'],
        currentDate: clock(),
      }));
    } catch {
      throw new InvalidCredentials('invalid bearer token');
    }
    const { iat, exp, jti } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || typeof iat !== 'number' || typeof exp !== 'number') {
      throw new InvalidCredentials('invalid bearer token');
    }
    if (exp - iat > MAX_JWT_LIFETIME_SECONDS) throw new InvalidCredentials('the token lives longer than 24 hours');
    if (exp <= iat) throw new InvalidCredentials('the token expires before it was issued');
    return {
      principal: { accountSid: entry.app.accountSid, type: 'application', credentialSid: entry.app.applicationId },
      exp,
    };
  }

  /** The sid a header claims, for throttling; read before (and whether or not) it verifies. */
  function claimedSid(parsed: ParsedAuthorization): string | undefined {
    if (parsed.scheme === 'basic') return parsed.username.slice(0, 64);
    try {
      const id = decodeJwt(parsed.token).application_id;
      return typeof id === 'string' ? normalizeApplicationId(id) : undefined;
    } catch {
      return undefined;
    }
  }

  // The one-shot form: no Hash object per request (~0.6 µs less, measured).
  const cacheKeyOf = (header: string) => hash('sha256', header, 'base64');

  return {
    cached: (header) => (trusted ? cache.get(cacheKeyOf(header)) : undefined),

    // Verify first, throttle failures: a correct secret always passes, whatever others
    // tried against the same sid (no lockout of the owner). Only the client address's
    // own failures can refuse it, and they are checked before any work.
    async authenticate(header, clientAddress) {
      if (header === undefined) return undefined;
      const cacheKey = cacheKeyOf(header);
      const hit = trusted ? cache.get(cacheKey) : undefined;
      if (hit) return hit;

      const now = clock().getTime();
      const addressWait = throttle.addressRetryAfterSeconds(clientAddress, now);
      if (addressWait > 0) {
        options.onFailure?.('throttled');
        throw new TooManyRequests(addressWait);
      }
      const readAtGeneration = generation;
      const remember = (principal: Principal, ttlMillis: number) => {
        if (trusted && ttl > 0 && readAtGeneration === generation) cache.set(cacheKey, principal, { ttl: ttlMillis });
      };
      let sid: string | undefined;
      try {
        const parsed = parseAuthorization(header);
        sid = claimedSid(parsed);
        if (parsed.scheme === 'basic') {
          const principal = await verifyBasic(parsed.username, parsed.password);
          remember(principal, ttl);
          return principal;
        }
        const { principal, exp } = await verifyBearer(parsed.token, sid);
        remember(principal, Math.max(1, Math.min(ttl, exp * 1000 - now)));
        return principal;
      } catch (err) {
        if (!(err instanceof InvalidCredentials)) throw err;
        // Past the limit, a failure tells the client to back off; it never hides a success.
        const wait = throttle.credentialRetryAfterSeconds(sid, now);
        throttle.recordFailure(clientAddress, sid, now);
        options.onFailure?.(wait > 0 ? 'throttled' : 'invalid');
        if (wait > 0) throw new TooManyRequests(wait);
        throw err;
      }
    },

    invalidateAccount(accountSid) {
      generation++;
      for (const [key, principal] of cache.entries()) {
        if (principal.accountSid === accountSid) cache.delete(key);
      }
      for (const [id, entry] of applicationKeys.entries()) {
        if (entry.app.accountSid === accountSid) applicationKeys.delete(id);
      }
    },

    setCacheTrusted(value) {
      generation++;
      trusted = value;
      cache.clear();
      applicationKeys.clear();
    },
  };
}

/** Settings, keys, tokens and applications are the owner's: the auth token only. */
export function assertAccountOwner(principal: Principal): void {
  if (principal.type !== 'auth_token') {
    throw new Forbidden("this needs the account's auth token; API keys and applications cannot manage the account");
  }
}
