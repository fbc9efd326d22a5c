import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Db } from '../../db/pool.js';
import { findApplication } from '../../db/queries/applications.js';
import type { MediaRow } from '../../db/queries/media.js';
import { DomainError, Forbidden, InvalidRequest, PayloadTooLarge } from '../../domain/errors.js';
import {
  deleteMedia,
  getMedia,
  listMedia,
  parseContentType,
  parseFilename,
  parseKind,
  resolveMediaRedirect,
  uploadMedia,
  type MediaDeps,
} from '../../domain/media.js';
import { MEDIA_KINDS } from '../../domain/protection.js';
import type { Metrics } from '../../metrics.js';
import { allowAnonymousOrSameAccount, principalOf, requireSameAccount } from '../auth.js';
import { pageSize, readQuery } from '../input.js';

export interface MediaRouteDeps extends MediaDeps {
  db: Db;
  publicBaseUrl: string;
  metrics: Metrics;
}

export function mediaUrl(publicBaseUrl: string, m: Pick<MediaRow, 'account_sid' | 'sid'>): string {
  return `${publicBaseUrl}/v1/accounts/${m.account_sid}/media/${m.sid}`;
}

export function mediaJson(publicBaseUrl: string, m: MediaRow) {
  return {
    sid: m.sid,
    account_sid: m.account_sid,
    kind: m.kind,
    content_type: m.content_type,
    size_bytes: m.size_bytes,
    sha256: m.sha256,
    filename: m.filename,
    created_at: m.created_at.toISOString(),
    requires_auth: m.requires_auth,
    application_id: m.application_id,
    url: mediaUrl(publicBaseUrl, m),
  };
}

const listQuery = z.object({
  kind: z.enum(MEDIA_KINDS as [string, ...string[]]).optional(),
  page_size: pageSize(1000, 50),
  page_token: z.string().max(512).optional(),
});

const uploadQuery = z.object({
  kind: z.string({ error: `kind is required: one of ${MEDIA_KINDS.join(', ')}` }),
  filename: z.string().optional(),
  application_id: z.uuid({ error: 'must be an application id' }).optional(),
});

const redirectQuery = z.object({
  disposition: z.enum(['attachment', 'inline']).optional(),
});

const UUID_LOWER = (s: string) => s.toLowerCase();

/**
 * One structured line and one metric per media URL access, allowed or refused, whatever
 * refused it (the credentials check runs before the route): who (never a secret), what,
 * from where, and how it ended. Mounted ahead of authentication.
 */
export function mediaAccessLog(deps: Pick<MediaRouteDeps, 'metrics'>) {
  return async function logMediaAccess(ctx: Context, next: Next): Promise<void> {
    const isMediaUrl = (ctx.method === 'GET' || ctx.method === 'HEAD') && !ctx.path.endsWith('.json');
    if (!isMediaUrl) return next();
    let outcome = 'error';
    try {
      await next();
      outcome = ctx.status === 302 ? (principalOf(ctx) ? 'redirect_authenticated' : 'redirect_anonymous') : String(ctx.status);
    } catch (err) {
      outcome = err instanceof DomainError ? err.code : 'error';
      throw err;
    } finally {
      deps.metrics.redirects.inc({ outcome });
      // Added to the request's log line (one line per request, not two on the hot path).
      ctx.state.logFields = {
        event: 'media_access',
        account_sid: ctx.params.accountSid,
        media_sid: ctx.params.mediaSid,
        outcome,
      };
    }
  };
}

export function mediaRoutes(router: Router, deps: MediaRouteDeps): void {
  const base = '/v1/accounts/:accountSid/media';

  // Registered before the media URL, whose :mediaSid would also match "ME….json".
  router.get(`${base}/:mediaSid.json`, requireSameAccount, async (ctx) => {
    const media = await getMedia(deps, ctx.params.accountSid!, ctx.params.mediaSid!);
    ctx.body = mediaJson(deps.publicBaseUrl, media);
  });

  // GET and HEAD (the router adds HEAD to every GET route).
  router.get(`${base}/:mediaSid`, allowAnonymousOrSameAccount, async (ctx) => {
    const principal = principalOf(ctx);
    const { disposition } = readQuery(ctx, redirectQuery.loose());
    const location = await resolveMediaRedirect(deps, {
      accountSid: ctx.params.accountSid!,
      mediaSid: ctx.params.mediaSid!,
      principal,
      method: ctx.method === 'HEAD' ? 'HEAD' : 'GET',
      attachment: disposition === 'attachment',
    });
    ctx.set('Cache-Control', 'private, no-store');
    ctx.redirect(location);
    ctx.status = 302;
  });

  router.get(base, requireSameAccount, async (ctx) => {
    const q = readQuery(ctx, listQuery);
    const { media, nextPageToken } = await listMedia(deps, {
      accountSid: ctx.params.accountSid!,
      kind: q.kind === undefined ? undefined : parseKind(q.kind),
      pageSize: q.page_size,
      pageToken: q.page_token,
    });
    ctx.body = { media: media.map((m) => mediaJson(deps.publicBaseUrl, m)), next_page_token: nextPageToken };
  });

  router.post(base, requireSameAccount, async (ctx) => {
    const q = readQuery(ctx, uploadQuery);
    const accountSid = ctx.params.accountSid!;
    const kind = parseKind(q.kind);
    const filename = parseFilename(q.filename);
    const contentType = parseContentType(ctx.get('Content-Type') || undefined);
    const applicationId = q.application_id === undefined ? null : UUID_LOWER(q.application_id);
    if (applicationId !== null) await checkApplication(deps.db, ctx, accountSid, applicationId);
    checkDeclaredLength(ctx, deps.mediaMaxBytes);

    const media = await uploadMedia(deps, { accountSid, kind, filename, contentType, applicationId, body: ctx.req });
    ctx.status = 201;
    ctx.set('Location', mediaUrl(deps.publicBaseUrl, media));
    ctx.body = mediaJson(deps.publicBaseUrl, media);
  });

  router.delete(`${base}/:mediaSid`, requireSameAccount, async (ctx) => {
    await deleteMedia(deps, ctx.params.accountSid!, ctx.params.mediaSid!);
    ctx.status = 204;
  });
}

/** Refuses by Content-Length before reading a byte; chunked bodies are counted as they stream. */
function checkDeclaredLength(ctx: Context, maxBytes: number): void {
  const header = ctx.get('Content-Length');
  if (header === '') return;
  const declared = Number(header);
  if (declared === 0) throw new InvalidRequest('the body is empty');
  if (declared > maxBytes) {
    // The client is still sending; closing is cheaper than draining up to its size.
    ctx.set('Connection', 'close');
    throw new PayloadTooLarge(maxBytes);
  }
}

async function checkApplication(db: Db, ctx: Context, accountSid: string, applicationId: string): Promise<void> {
  const principal = principalOf(ctx);
  if (principal?.type === 'application' && principal.credentialSid !== applicationId) {
    throw new Forbidden('an application can only upload media for itself');
  }
  if (!(await findApplication(db, accountSid, applicationId))) {
    throw new InvalidRequest('application_id names no application of this account');
  }
}
