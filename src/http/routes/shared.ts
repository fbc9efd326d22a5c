import type { Context } from 'koa';
import type { Config } from '../../config.js';
import { DomainError, NotFound } from '../../domain/errors.js';
import {
  cachedShareLink,
  cachedShareUrl,
  countUseInMemory,
  resolveShareLink,
  sharedObject,
  signShareUrl,
  takeLimitedUse,
  type LiveShareLink,
  type ShareLinkDeps,
} from '../../domain/share-links.js';
import type { Metrics } from '../../metrics.js';
import { HttpError } from '../errors.js';
import { route, type Route } from '../route.js';
import { sendObject } from '../send-object.js';

export interface SharedDeps extends ShareLinkDeps {
  metrics: Metrics;
  mediaDelivery: Config['mediaDelivery'];
}

const signedMethod = (ctx: Context) => (ctx.method === 'HEAD' ? 'HEAD' : 'GET');

/**
 * A share link's URL, GET and HEAD, with no credentials: a 302 to a store URL living
 * SHARE_URL_TTL_SECONDS (or the bytes, MEDIA_DELIVERY=proxy). One 404 for every dead
 * link, whatever killed it. A repeated use of an unlimited link is answered from memory
 * (the link, its media and a reusable store URL cached), without a promise.
 */
export const sharedRoutes = (limits: { shareUrlTtlSeconds: number }): Route<SharedDeps>[] =>
  (['GET', 'HEAD'] as const).map((method) =>
    route({
      method,
      path: '/s/{Token}',
      operationId: method === 'GET' ? 'getSharedMedia' : 'headSharedMedia',
      tag: 'Share links',
      summary: method === 'GET' ? 'A share link: the media, without credentials' : 'A share link, HEAD: redirected to a URL signed for HEAD (no use counted)',
      description:
        `Every GET answered with a redirect or the bytes counts one use. A link that never existed, has expired, was revoked, has no uses left, or whose media is deleted or past retention: 404, the same answer for each (a short page for a browser, JSON otherwise). ` +
        `Failed look-ups count against the client address, which past AUTH_FAILURE_LIMIT is answered 429.`,
      auth: 'none',
      parameters: [
        { name: 'Range', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: one `bytes=` range.', schema: { type: 'string' } },
        { name: 'If-None-Match', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: an ETag seen before.', schema: { type: 'string' } },
      ],
      answers: {
        200: {
          description: 'MEDIA_DELIVERY=proxy: the bytes.',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          headers: { ETag: 'ETag', 'Accept-Ranges': 'Accept-Ranges', 'Content-Disposition': 'Content-Disposition', 'Content-Security-Policy': 'Content-Security-Policy-Sandbox' },
        },
        206: {
          description: 'MEDIA_DELIVERY=proxy: the part one `Range` asked for.',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          headers: { 'Content-Range': 'Content-Range', ETag: 'ETag', 'Accept-Ranges': 'Accept-Ranges' },
        },
        302: {
          description: `\`Location\` is a store URL signed for ${method}, living SHARE_URL_TTL_SECONDS (${limits.shareUrlTtlSeconds} s), serving the media with the link's disposition.`,
          headers: { Location: 'Location' },
        },
        304: { description: "MEDIA_DELIVERY=proxy: `If-None-Match` names the media's ETag.", headers: { ETag: 'ETag' } },
        404: {
          description: 'No live link: never existed, expired, revoked, used up, or its media is gone. A page for a browser (`Accept: text/html`), JSON otherwise.',
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Error404' } },
            'text/html': { schema: { type: 'string' } },
          },
        },
      },
      errors: ['range_not_satisfiable', 'too_many_requests', 'service_unavailable'],

      fromMemory(ctx, params, deps) {
        if (deps.mediaDelivery === 'proxy') return false;
        const live = cachedShareLink(deps, params.token!);
        if (!live) return false;
        const url = cachedShareUrl(deps, live, signedMethod(ctx));
        if (!url || !countUseInMemory(deps, live.link, ctx.method)) return false;
        redirect(ctx, url);
        record(ctx, deps, live, 'redirect', 'memory');
        return true;
      },

      async handle(ctx, { params }, deps) {
        let live: LiveShareLink | undefined;
        let outcome = 'error';
        try {
          live = await resolveShareLink(deps, params.token!, ctx.ip);
          if (!countUseInMemory(deps, live.link, ctx.method) && !(await takeLimitedUse(deps, live.link))) {
            throw new NotFound('no such share link');
          }
          if (deps.mediaDelivery === 'proxy') {
            await sendObject(ctx, sharedObject(deps, live));
            outcome = 'proxied';
          } else {
            redirect(ctx, (await signShareUrl(deps, live, signedMethod(ctx))).url);
            outcome = 'redirect';
          }
        } catch (err) {
          outcome = err instanceof DomainError || err instanceof HttpError ? err.code : 'error';
          throw err;
        } finally {
          record(ctx, deps, live, outcome, 'full');
        }
      },
    }),
  );

/** The access line names the link by its sid, never by its token (the path is not logged either). */
function record(ctx: Context, deps: SharedDeps, live: LiveShareLink | undefined, outcome: string, answeredFrom: 'memory' | 'full'): void {
  deps.metrics.shareLinkUses.inc(outcome);
  ctx.state.logFields = {
    share_link: live?.link.sid,
    account: live?.link.accountSid,
    media: live?.media.sid,
    outcome,
    cached: answeredFrom === 'memory' || undefined,
  };

}

function redirect(ctx: Context, url: string): void {
  ctx.status = 302;
  ctx.set('Location', url);
  ctx.set('Content-Type', 'text/plain; charset=utf-8');
  ctx.body = '';
}

/** The 404 a person reads in a browser, instead of JSON: no script, no style, nothing loaded. */
export const GONE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Link not available</title></head>
<body>
<h1>This link is not available</h1>
<p>It may have expired, been used up or revoked, or the file it pointed to was removed. Ask whoever sent it for a new one.</p>
</body>
</html>
`;
