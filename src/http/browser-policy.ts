import type { Context } from 'koa';
import { Forbidden } from '../domain/errors.js';

// What browsers are told and may do, as pieces each area mounts for its own routes
// (areas/): CORS for listed origins or for any, the same-origin rule for writes.

const EXPOSED_HEADERS = 'Location, X-Request-Id, Retry-After, WWW-Authenticate';
const ALLOWED_HEADERS = 'Authorization, Content-Type';
const PREFLIGHT_MAX_AGE_SECONDS = '600';
const STATE_CHANGING = new Set(['POST', 'PATCH', 'DELETE', 'PUT']);

/** Bytes the service serves run nothing, even if opened as a document. */
export const SANDBOX_CSP = "sandbox; default-src 'none'";

const isPreflight = (ctx: Context) => ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '';

export interface BrowserPolicyOptions {
  publicBaseUrl: string;
  /** PUBLIC_BASE_URL was set: only its origin is the service's own (config.ts) */
  publicBaseUrlSet: boolean;
  /** origins allowed to call the API from a browser (CORS) */
  corsOrigins: readonly string[];
}

export interface OriginPolicy {
  /**
   * CORS for a listed Origin (never with credentials: a page calls with an explicit
   * Authorization header, never on the strength of cached Basic credentials); answers a
   * preflight itself (true). No headers at all for other origins, or with no list.
   */
  cors(ctx: Context, allow: readonly string[]): boolean;
  /**
   * A state-changing request from a page of another origin is 403 before it reaches a
   * route: a browser that cached the owner's Basic credentials for this origin would
   * otherwise send them with a cross-site form (CSRF).
   */
  refuseCrossSiteWrites(ctx: Context): void;
  /**
   * Where the service's pages are, as a CSP source names them: PUBLIC_BASE_URL when set,
   * else the origin the request was addressed to (a console opened at http://localhost
   * while the default PUBLIC_BASE_URL names 127.0.0.1), when it is a plain host.
   */
  pageBase(ctx: Context): string;
}

// A Host (or, behind a trusted proxy, X-Forwarded-Host) that is a name or an address
// with an optional port: anything else is not copied into a header.
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function originPolicy(options: BrowserPolicyOptions): OriginPolicy {
  const listed = new Set(options.corsOrigins);
  const ownOrigin = new URL(options.publicBaseUrl).origin;
  const addressedOrigin = (ctx: Context) => (PLAIN_HOST.test(ctx.host) ? `${ctx.protocol}://${ctx.host}` : undefined);
  return {
    cors(ctx, allow) {
      if (listed.size === 0) return false;
      ctx.vary('Origin');
      const origin = ctx.get('Origin');
      if (origin === '' || !listed.has(origin)) return false;
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      if (!isPreflight(ctx)) return false;
      answerPreflight(ctx, allow, ALLOWED_HEADERS);
      return true;
    },
    refuseCrossSiteWrites(ctx) {
      const origin = ctx.get('Origin');
      if (origin === '' || !STATE_CHANGING.has(ctx.method) || listed.has(origin)) return;
      if (origin === ownOrigin) return;
      // Without PUBLIC_BASE_URL, the origin the request was addressed to counts too (a
      // console opened at http://localhost while the default names 127.0.0.1). With it,
      // never: a Host header is the client's to write, and a page on a name rebound to
      // this address (DNS rebinding) would name its own origin in both. `Origin: null`
      // (sandboxed pages, file://) is never the service's.
      if (options.publicBaseUrlSet || origin !== addressedOrigin(ctx)) {
        throw new Forbidden(`requests from pages of ${origin.slice(0, 100)} are not accepted`);
      }
    },
    pageBase(ctx) {
      return options.publicBaseUrlSet ? options.publicBaseUrl : (addressedOrigin(ctx) ?? ownOrigin);
    },
  };
}

/** CORS for any page: URLs that are capabilities in themselves (signed blob URLs, share links). */
export function anyOriginCors(ctx: Context, allow: readonly string[], requestHeaders: string, exposed: string): boolean {
  ctx.set('Access-Control-Allow-Origin', '*');
  ctx.set('Access-Control-Expose-Headers', exposed);
  if (!isPreflight(ctx)) return false;
  answerPreflight(ctx, allow, requestHeaders);
  return true;
}

function answerPreflight(ctx: Context, allow: readonly string[], requestHeaders: string): void {
  ctx.set('Access-Control-Allow-Methods', allow.join(', '));
  ctx.set('Access-Control-Allow-Headers', requestHeaders);
  ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
  ctx.status = 204;
}
