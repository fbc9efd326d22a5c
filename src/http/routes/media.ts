import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { checkUploadApplication } from '../../domain/applications.js';
import type { MediaRow } from '../../db/queries/media.js';
import { InvalidRequest, PayloadTooLarge } from '../../domain/errors.js';
import {
  assertApplicationMayAccess,
  deleteMedia,
  getMedia,
  listMedia,
  parseContentType,
  parseFilename,
  parseKind,
  uploadMedia,
  type MediaDeps,
} from '../../domain/media.js';
import { MEDIA_KINDS } from '../../domain/protection.js';
import { principalOf, requireSameAccount } from '../auth.js';
import { absentIfEmpty, pageSize, readQuery } from '../input.js';
import { watchUploadPace, type UploadPace } from '../upload-pace.js';

export interface MediaRouteDeps extends MediaDeps {
  publicBaseUrl: string;
  uploadPace: UploadPace;
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

export const listQuery = z.object({
  kind: z.preprocess(absentIfEmpty, z.enum(MEDIA_KINDS as [string, ...string[]]).optional()),
  page_size: z.preprocess(absentIfEmpty, pageSize(1000, 50)),
  page_token: z.preprocess(absentIfEmpty, z.string().max(512).optional()),
});

export const uploadQuery = z.object({
  kind: z.string({ error: `kind is required: one of ${MEDIA_KINDS.join(', ')}` }),
  filename: z.string().optional(),
  application_id: z.uuid({ error: 'must be an application id' }).optional(),
});

export function mediaRoutes(router: Router, deps: MediaRouteDeps): void {
  const base = '/v1/accounts/:accountSid/media';

  router.get(`${base}/:mediaSid.json`, requireSameAccount, async (ctx) => {
    const media = await getMedia(deps, ctx.params.accountSid!, ctx.params.mediaSid!);
    assertApplicationMayAccess(principalOf(ctx), media);
    ctx.body = mediaJson(deps.publicBaseUrl, media);
  });

  // GET and HEAD of the media URL itself: routes/media-url.ts, ahead of the router.

  router.get(base, requireSameAccount, async (ctx) => {
    const q = readQuery(ctx, listQuery);
    const principal = principalOf(ctx);
    const { media, nextPageToken } = await listMedia(deps, {
      accountSid: ctx.params.accountSid!,
      applicationId: principal?.type === 'application' ? principal.credentialSid : undefined,
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
    const applicationId = q.application_id === undefined ? null : q.application_id.toLowerCase();
    if (applicationId !== null) await checkUploadApplication(deps.db, accountSid, applicationId, principalOf(ctx));
    const declaredBytes = checkDeclaredLength(ctx, deps.mediaMaxBytes);

    const stopWatching = watchUploadPace(ctx, deps.uploadPace);
    const media = await uploadMedia(deps, { accountSid, kind, filename, contentType, applicationId, body: ctx.req, declaredBytes }).finally(
      stopWatching,
    );
    ctx.status = 201;
    ctx.set('Location', mediaUrl(deps.publicBaseUrl, media));
    ctx.body = mediaJson(deps.publicBaseUrl, media);
  });

  router.delete(`${base}/:mediaSid`, requireSameAccount, async (ctx) => {
    await deleteMedia(deps, ctx.params.accountSid!, ctx.params.mediaSid!, principalOf(ctx)!);
    ctx.status = 204;
  });
}

/** Refuses by Content-Length before reading a byte; chunked bodies are counted as they stream. */
function checkDeclaredLength(ctx: Context, maxBytes: number): number | undefined {
  const header = ctx.get('Content-Length');
  if (header === '') return undefined;
  const declared = Number(header);
  if (declared === 0) throw new InvalidRequest('the body is empty');
  if (declared > maxBytes) {
    // The client is still sending; closing is cheaper than draining up to its size.
    ctx.set('Connection', 'close');
    throw new PayloadTooLarge(maxBytes);
  }
  return declared;
}
