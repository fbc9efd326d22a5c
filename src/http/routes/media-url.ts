import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { assertSameAccount, type Authenticator } from '../../domain/credentials.js';
import { DomainError } from '../../domain/errors.js';
import { resolveMediaRedirect, type MediaDeps } from '../../domain/media.js';
import type { Metrics } from '../../metrics.js';
import { authenticateOnce } from '../auth.js';

export const MEDIA_URL_ROUTE = '/v1/accounts/:accountSid/media/:mediaSid';
const WELL_FORMED_MEDIA_URL = /^\/v1\/accounts\/(AC[0-9a-f]{32})\/media\/(ME[0-9a-f]{32})$/;

export interface MediaUrlDeps extends MediaDeps {
  authenticator: Authenticator;
  metrics: Metrics;
}


/**
 * GET/HEAD of a media URL, in the contract's order: bad credentials 401, another
 * account's 403 (before any lookup), then resolveMediaRedirect (404, 401, 403 for
 * another application, else 302). Every access, allowed or refused, is counted and its
 * outcome added to the request's log line.
 */
async function answerMediaUrl(deps: MediaUrlDeps, ctx: Context, accountSid: string, mediaSid: string): Promise<void> {
  let outcome = 'error';
  try {
    const principal = await authenticateOnce(ctx, deps.authenticator);
    if (principal) assertSameAccount(principal, accountSid);
    const location = await resolveMediaRedirect(deps, {
      accountSid,
      mediaSid,
      principal,
      method: ctx.method === 'HEAD' ? 'HEAD' : 'GET',
      disposition: ctx.query.disposition,
    });
    // Set directly rather than with ctx.redirect(), whose Accept negotiation and HTML
    // escaping cost ~5 % of this path (profiled); the URL is ours and already encoded.
    ctx.status = 302;
    ctx.set('Location', location);
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('Content-Type', 'text/plain; charset=utf-8');
    ctx.body = '';
    outcome = principal ? 'redirect_authenticated' : 'redirect_anonymous';
  } catch (err) {
    outcome = err instanceof DomainError ? err.code : 'error';
    throw err;
  } finally {
    deps.metrics.redirects.inc({ outcome });
    ctx.state.logFields = { event: 'media_access', account_sid: accountSid, media_sid: mediaSid, outcome };
  }
}

/**
 * The hot path, mounted ahead of the router: well-formed media URLs are answered
 * without matching ~25 route patterns and composing a middleware chain per request (the
 * router's cost, ~15 % of a redirect's CPU, profiled). Anything else (other methods,
 * ids of the wrong form, `.json`) goes on to the router, which has the same route.
 */
export function mediaUrlFastPath(deps: MediaUrlDeps) {
  return function fastMediaUrl(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const match = WELL_FORMED_MEDIA_URL.exec(ctx.path);
    if (!match) return next();
    (ctx as unknown as { _matchedRoute: string })._matchedRoute = MEDIA_URL_ROUTE;
    ctx.params = { accountSid: match[1]!, mediaSid: match[2]! };
    return answerMediaUrl(deps, ctx, match[1]!, match[2]!);
  };
}

/** The same route in the router: ids of the wrong form (404), and 405's Allow header. */
export function mediaUrlRoute(router: Router, deps: MediaUrlDeps): void {
  router.get(MEDIA_URL_ROUTE, (ctx) => answerMediaUrl(deps, ctx, ctx.params.accountSid!, ctx.params.mediaSid!));
}
