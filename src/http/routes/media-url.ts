import type { Context } from 'koa';
import { z } from 'zod';
import { decideMediaAccess, enforce, refusalBeforeLookup, refusalOfMedia } from '../../domain/access.js';
import { DomainError } from '../../domain/errors.js';
import { cachedMedia, cachedMediaUrl, findMedia, mediaObject, signMediaUrl } from '../../domain/media.js';
import type { AuthDeps } from '../auth.js';
import { knownPrincipal, readPrincipal } from '../auth.js';
import { HttpError } from '../errors.js';
import { absentIfEmpty } from '../input.js';
import { route, type Route } from '../route.js';
import { sendObject } from '../send-object.js';
import type { ApiDeps } from './api-deps.js';

export type MediaUrlDeps = ApiDeps & AuthDeps;

export const MEDIA_URL_PATH = '/v1/accounts/{AccountSid}/media/{MediaSid}';

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

const DESCRIPTION = [
  'The URL handed to webhooks. Decided in this order:',
  '1. an `Authorization` header that is malformed, names unknown credentials, or has a wrong or revoked secret: **401** (never ignored, not even on legacy media);',
  '2. valid credentials of another account than `{AccountSid}`: **403**, before any lookup of the media;',
  '3. no such media in that account (never existed, deleted, expired): **404**;',
  '4. media with `requires_auth` and no credentials: **401**;',
  '5. otherwise the answer: a **302** to a signed URL (the default), that URL as JSON (`?redirect=false`), or the bytes (MEDIA_DELIVERY=proxy: 200, 206, 304, 416).',
  '',
  'Query values are checked (400) only after all of that. The `Accept` header never changes the answer.',
].join('\n');

/**
 * The media URL, GET and HEAD. The contract's order, decided by domain/access.ts for
 * both ways of answering: from memory (a repeated redirect: credentials, media and a
 * reusable signed URL all cached, answered without a promise), or the whole way (any
 * miss, a query, a refusal). The access line's `answered_from` says which did.
 */
export const mediaUrlRoutes = (limits: { mediaUrlTtlSeconds: number }): Route<MediaUrlDeps>[] =>
  (['GET', 'HEAD'] as const).map((method) =>
    route({
      method,
      path: MEDIA_URL_PATH,
      operationId: method === 'GET' ? 'getMediaUrl' : 'headMediaUrl',
      tag: 'Media URL',
      summary: method === 'GET' ? 'The media URL: redirect to (or deliver) the bytes' : 'The media URL, HEAD: redirected to a URL signed for HEAD',
      description: DESCRIPTION,
      auth: 'optional',
      query: mediaUrlQuery(limits.mediaUrlTtlSeconds),
      queryNotes: {
        disposition: { description: '`attachment`: the signed URL (or the proxied answer) serves `Content-Disposition: attachment; filename="…"`.', example: 'attachment' },
        redirect: { description: '`false`: answer 200 with the signed URL as JSON instead of a 302 (whatever the `Accept` header says).', example: 'false' },
        expires_in: {
          description: `Seconds the signed URL lives, a whole number from 60 to ${limits.mediaUrlTtlSeconds} (MEDIA_URL_TTL_SECONDS, the default); anything else is 400.`,
          describes: 'value',
          schema: { type: 'integer' },
          example: 300,
        },
      },
      parameters: [
        { name: 'Range', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: one `bytes=` range.', schema: { type: 'string' }, example: 'bytes=0-1023' },
        { name: 'If-None-Match', in: 'header', required: false, description: 'MEDIA_DELIVERY=proxy: an ETag seen before.', schema: { type: 'string' } },
      ],
      answers: {
        200: {
          description:
            'With `?redirect=false`: the signed URL as JSON. With MEDIA_DELIVERY=proxy (and no `redirect=false`): the bytes themselves, streamed from the store' +
            (method === 'HEAD' ? ' (headers only: a HEAD).' : '.'),
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/MediaUrlAnswer' }, 'x-mediagate-when-query': { redirect: 'false' } },
            '*/*': { schema: { type: 'string', format: 'binary' } },
          },
          headers: {
            'Cache-Control': 'Cache-Control-Private',
            // Only the bytes (proxy) carry these, not the JSON form: not required here.
            ETag: 'ETag?',
            'Accept-Ranges': 'Accept-Ranges?',
            'Content-Disposition': 'Content-Disposition',
            'Content-Security-Policy': 'Content-Security-Policy-Sandbox?',
          },
        },
        206: {
          description: 'MEDIA_DELIVERY=proxy: the part of the bytes one `Range: bytes=…` asked for.',
          content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          headers: { 'Cache-Control': 'Cache-Control-Private', 'Content-Range': 'Content-Range', ETag: 'ETag', 'Accept-Ranges': 'Accept-Ranges' },
        },
        302: {
          description:
            `The default answer: \`Location\` is a presigned URL of the object store (S3, CloudFront or the local store's \`/v1/blobs/…\`), valid for \`expires_in\` or MEDIA_URL_TTL_SECONDS, serving the bytes with the stored Content-Type. ` +
            (method === 'HEAD'
              ? "It is signed for HEAD, so that a client following the redirect gets the headers: S3's URLs signed for GET refuse a HEAD. (CloudFront's signatures do not cover the method.)"
              : "It is signed for GET: S3's serve only GET, the local store's serve HEAD too. (CloudFront's signatures do not cover the method.)"),
          headers: { Location: 'Location', 'Cache-Control': 'Cache-Control-Private' },
        },
        304: {
          description: "MEDIA_DELIVERY=proxy: `If-None-Match` names the media's ETag (objects never change).",
          headers: { ETag: 'ETag', 'Cache-Control': 'Cache-Control-Private' },
        },
      },
      errors: ['invalid_request', 'unauthorized', 'forbidden', 'not_found', 'range_not_satisfiable', 'too_many_requests', 'service_unavailable'],

      fromMemory(ctx, params, deps) {
        if (ctx.querystring !== '' || deps.mediaDelivery === 'proxy') return false;
        const principal = knownPrincipal(ctx, deps);
        if (principal === null) return false;
        const media = cachedMedia(deps, params.accountSid!, params.mediaSid!);
        if (!media || decideMediaAccess(principal, params.accountSid!, media) !== undefined) return false;
        const signed = cachedMediaUrl(deps, media, { method: signedMethod(ctx), attachment: false });
        if (!signed) return false;
        redirect(ctx, signed.url);
        record(ctx, deps, `redirect_${principal ? 'authenticated' : 'anonymous'}`, 'memory');
        return true;
      },

      async handle(ctx, { params, query }, deps) {
        const { accountSid, mediaSid } = params as { accountSid: string; mediaSid: string };
        let outcome = 'error';
        try {
          const principal = await readPrincipal(ctx, deps);
          enforce(refusalBeforeLookup(principal, accountSid));
          const media = await findMedia(deps, accountSid, mediaSid);
          enforce(refusalOfMedia(principal, media));
          // Most media URLs carry no query: nothing to parse or validate then (hot path).
          const q = ctx.querystring === '' ? {} : query();
          const attachment = q.disposition === 'attachment';
          let mode: 'redirect' | 'url' | 'proxied';
          if (q.redirect === 'false') {
            const signed = await signMediaUrl(deps, media, { method: signedMethod(ctx), attachment, ttlSeconds: q.expires_in });
            ctx.body = {
              url: signed.url,
              method: signed.method,
              expires_at: signed.expiresAt.toISOString(),
              content_type: media.contentType,
              size_bytes: media.sizeBytes,
              filename: media.filename,
            };
            mode = 'url';
          } else if (deps.mediaDelivery === 'proxy') {
            await sendObject(ctx, mediaObject(deps, media, attachment));
            mode = 'proxied';
          } else {
            const signed = await signMediaUrl(deps, media, { method: signedMethod(ctx), attachment, ttlSeconds: q.expires_in });
            redirect(ctx, signed.url);
            mode = 'redirect';
          }
          outcome = `${mode}_${principal ? 'authenticated' : 'anonymous'}`;
        } catch (err) {
          outcome = err instanceof DomainError || err instanceof HttpError ? err.code : 'error';
          throw err;
        } finally {
          record(ctx, deps, outcome, 'full');
        }
      },
    }),
  );

const signedMethod = (ctx: Context) => (ctx.method === 'HEAD' ? 'HEAD' : 'GET');

function record(ctx: Context, deps: MediaUrlDeps, outcome: string, answeredFrom: 'memory' | 'full'): void {
  deps.metrics.redirects.inc(outcome);
  // The line names account and media already (the path's ids); `cached` marks an answer from memory.
  ctx.state.logFields = answeredFrom === 'memory' ? { outcome, cached: true } : { outcome };
}

/**
 * Set directly rather than with ctx.redirect(), whose Accept negotiation and HTML
 * escaping cost ~5 % of this path (profiled): the Accept header must not change the
 * answer anyway (axios asks for JSON and follows the 302).
 */
function redirect(ctx: Context, url: string): void {
  ctx.status = 302;
  ctx.set('Location', url);
  ctx.set('Content-Type', 'text/plain; charset=utf-8');
  ctx.body = '';
}
