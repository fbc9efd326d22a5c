import type { Context, Next } from 'koa';
import { Forbidden } from '../domain/errors.js';
import { BLOB_PATH_PREFIX } from '../storage/local.js';

const EXPOSED_HEADERS = 'Location, X-Request-Id, Retry-After, WWW-Authenticate';
const ALLOWED_METHODS = 'GET, HEAD, POST, PATCH, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type';
const PREFLIGHT_MAX_AGE_SECONDS = '600';
const STATE_CHANGING = new Set(['POST', 'PATCH', 'DELETE', 'PUT']);
export const BLOB_CSP = "sandbox; default-src 'none'";

export interface BrowserPolicyOptions {
  publicBaseUrl: string;
  /** origins allowed to call the API from a browser (CORS) */
  corsOrigins: readonly string[];
}

/**
 * What browsers are told and what they may do, in one place:
 * - every response carries `X-Content-Type-Options: nosniff` (no guessing a script
 *   out of an upload's bytes);
 * - CORS only for the listed origins (never with credentials: a page calls with an
 *   explicit Authorization header, never on the strength of cached Basic credentials);
 *   the local store's blobs are fetched by URL alone and allow any origin;
 * - a state-changing request under /v1/accounts or /console from a page of another origin is 403
 *   before it reaches a route: a browser that cached the owner's Basic credentials
 *   for this origin would otherwise send them with a cross-site form (CSRF).
 */
export function browserPolicy(options: BrowserPolicyOptions) {
  const allowed = new Set(options.corsOrigins);
  const ownOrigin = new URL(options.publicBaseUrl).origin;
  const corsEnabled = allowed.size > 0;

  return function applyBrowserPolicy(ctx: Context, next: Next): Promise<void> | void {
    ctx.set('X-Content-Type-Options', 'nosniff');
    const origin = ctx.get('Origin');

    if (ctx.path.startsWith(BLOB_PATH_PREFIX)) {
      // Every blob answer, errors included, runs nothing even if opened as a document.
      ctx.set('Content-Security-Policy', BLOB_CSP);
      // Signed URLs are bearer capabilities: any page may fetch one it was handed.
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag');
      if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
        ctx.set('Access-Control-Allow-Methods', 'GET, HEAD');
        ctx.set('Access-Control-Allow-Headers', 'Range, If-None-Match');
        ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
        ctx.status = 204;
        return;
      }
      return next();
    }

    const listed = origin !== '' && allowed.has(origin);
    if (corsEnabled) ctx.vary('Origin');
    if (listed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
        ctx.set('Access-Control-Allow-Methods', ALLOWED_METHODS);
        ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
        ctx.status = 204;
        return;
      }
    }

    if (origin !== '' && STATE_CHANGING.has(ctx.method) && (ctx.path.startsWith('/v1/accounts') || ctx.path.startsWith('/console'))) {
      // The request's own origin (the page was served by this very host, as with a
      // console opened at http://localhost while PUBLIC_BASE_URL names 127.0.0.1) is
      // same-origin by definition; `Origin: null` (sandboxed pages, file://) is not.
      if (!listed && origin !== ownOrigin && origin !== `${ctx.protocol}://${ctx.host}`) {
        throw new Forbidden(`requests from pages of ${origin.slice(0, 100)} are not accepted`);
      }
    }
    return next();
  };
}
