import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { contentDispositionFor } from '../../domain/content-disposition.js';
import { assertSameAccount } from '../../domain/credentials.js';
import { DomainError } from '../../domain/errors.js';
import { cachedMediaUrl, findAccessibleMedia, readMediaBytes, signMediaUrl, type MediaDeps } from '../../domain/media.js';
import type { Metrics } from '../../metrics.js';
import { knownPrincipal, readPrincipal, type AuthDeps } from '../auth.js';
import { HttpError } from '../http-errors.js';
import { absentIfEmpty, readQuery } from '../input.js';
import { sendObject } from '../send-object.js';

export const MEDIA_URL_ROUTE = '/v1/accounts/:accountSid/media/:mediaSid';
// Any id shape (a malformed one is a 404 like an unknown one), but not the metadata
// route `…/{MediaSid}.json`, which the router answers.
const MEDIA_URL_PATH = /^\/v1\/accounts\/([^/]+)\/media\/([^/]+)$/;
const METHODS = 'GET, HEAD, DELETE';

export interface MediaUrlDeps extends MediaDeps, AuthDeps {
  metrics: Metrics;
  mediaDelivery: Config['mediaDelivery'];
}

export const mediaUrlQuery = (maxTtlSeconds: number) =>
  z.object({
    disposition: z.preprocess(absentIfEmpty, z.enum(['inline', 'attachment'], { error: 'must be attachment or inline' }).optional()),
    redirect: z.preprocess(absentIfEmpty, z.enum(['true', 'false'], { error: 'must be true or false' }).optional()),
    expires_in: z.preprocess(
      absentIfEmpty,
      z
        .string()
        .regex(/^\d{1,9}$/, `must be a whole number of seconds from 60 to ${maxTtlSeconds}`)
        .transform(Number)
        .pipe(z.number().min(Math.min(60, maxTtlSeconds), `must be from 60 to ${maxTtlSeconds}`).max(maxTtlSeconds, `must be from 60 to ${maxTtlSeconds}`))
        .optional(),
    ),
  });

/**
 * The media URL, GET and HEAD, defined here only. It runs ahead of the router: a
 * redirect is then answered without matching ~25 route patterns and composing their
 * middleware (~15 % of a redirect's CPU, profiled). The contract's order: bad
 * credentials 401, another account's 403 (before any lookup), no such media 404,
 * protected media without credentials 401, then the answer: a 302 to a signed URL (the
 * default), that URL as JSON (`?redirect=false`), or the bytes themselves
 * (MEDIA_DELIVERY=proxy). Query values are checked only after all of that.
 */
export function mediaUrl(deps: MediaUrlDeps) {
  const query = mediaUrlQuery(deps.mediaUrlTtlSeconds);
  return function answerMediaUrl(ctx: Context, next: Next): Promise<void> {
    const match = MEDIA_URL_PATH.exec(ctx.path);
    if (!match || match[2]!.endsWith('.json')) return next();
    if (ctx.method === 'DELETE') return next(); // the media API's route
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', METHODS);
      if (ctx.method === 'OPTIONS') {
        ctx.status = 204;
        return Promise.resolve();
      }
      throw new HttpError(405, 'method_not_allowed', `use one of ${METHODS}`);
    }
    ctx.state.route = MEDIA_URL_ROUTE;
    if (answerFromMemory(ctx, match[1]!, match[2]!)) return Promise.resolve();
    return answer(ctx, match[1]!, match[2]!);
  };

  /**
   * The common case, a repeated redirect, answered from the caches without a promise
   * (the async path's awaits cost ~10 % of a redirect's CPU, profiled). Anything else
   * (a miss, a query, a refusal to be decided) goes the whole way, through answer().
   */
  function answerFromMemory(ctx: Context, accountSid: string, mediaSid: string): boolean {
    if (ctx.querystring !== '' || deps.mediaDelivery === 'proxy') return false;
    const principal = knownPrincipal(ctx, deps);
    if (principal === null || (principal && principal.accountSid !== accountSid)) return false;
    const method = ctx.method === 'HEAD' ? 'HEAD' : 'GET';
    const signed = cachedMediaUrl(deps, { accountSid, mediaSid, principal }, { method, attachment: false });
    if (!signed) return false;
    redirect(ctx, signed.url);
    record(ctx, accountSid, mediaSid, `redirect_${principal ? 'authenticated' : 'anonymous'}`);
    return true;
  }

  async function answer(ctx: Context, accountSid: string, mediaSid: string): Promise<void> {
    let outcome = 'error';
    let mode: 'redirect' | 'url' | 'proxied';
    try {
      const principal = await readPrincipal(ctx, deps);
      if (principal) assertSameAccount(principal, accountSid);
      const media = await findAccessibleMedia(deps, { accountSid, mediaSid, principal });
      // Most media URLs carry no query: nothing to parse or validate then (hot path).
      const q: z.infer<typeof query> = ctx.querystring === '' ? {} : readQuery(ctx, query);
      const attachment = q.disposition === 'attachment';
      const method = ctx.method === 'HEAD' ? 'HEAD' : 'GET';

      if (q.redirect === 'false') {
        const signed = await signMediaUrl(deps, media, { method, attachment, ttlSeconds: q.expires_in });
        ctx.set('Cache-Control', NO_STORE);
        ctx.body = {
          url: signed.url,
          method: signed.method,
          expires_at: signed.expiresAt.toISOString(),
          content_type: media.content_type,
          size_bytes: media.size_bytes,
          filename: media.filename,
        };
        mode = 'url';
      } else if (deps.mediaDelivery === 'proxy') {
        ctx.set('Cache-Control', NO_STORE);
        await sendObject(ctx, {
          etag: `"${media.sid}"`,
          sizeBytes: media.size_bytes,
          contentType: media.content_type,
          contentDisposition: contentDispositionFor(media, attachment),
          lastModified: media.created_at,
          open: (range) => readMediaBytes(deps, media, range),
        });
        mode = 'proxied';
      } else {
        const signed = await signMediaUrl(deps, media, { method, attachment, ttlSeconds: q.expires_in });
        redirect(ctx, signed.url);
        mode = 'redirect';
      }
      outcome = `${mode}_${principal ? 'authenticated' : 'anonymous'}`;
    } catch (err) {
      outcome = err instanceof DomainError || err instanceof HttpError ? err.code : 'error';
      throw err;
    } finally {
      record(ctx, accountSid, mediaSid, outcome);
    }
  }

  function record(ctx: Context, accountSid: string, mediaSid: string, outcome: string): void {
    deps.metrics.redirects.inc({ outcome });
    ctx.state.logFields = { event: 'media_access', account_sid: accountSid, media_sid: mediaSid, outcome };
  }
}

const NO_STORE = 'private, no-store';

/**
 * Set directly rather than with ctx.redirect(), whose Accept negotiation and HTML
 * escaping cost ~5 % of this path (profiled): the Accept header must not change the
 * answer anyway (axios asks for JSON and follows the 302).
 */
function redirect(ctx: Context, url: string): void {
  ctx.status = 302;
  ctx.set('Cache-Control', NO_STORE);
  ctx.set('Location', url);
  ctx.set('Content-Type', 'text/plain; charset=utf-8');
  ctx.body = '';
}
