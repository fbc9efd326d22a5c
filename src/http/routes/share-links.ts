import type { Context } from 'koa';
import { z } from 'zod';
import { createShareLink, deleteShareLink, listShareLinks, type ShareLink } from '../../domain/share-links.js';
import { principalOf } from '../auth.js';
import { pagingNotes, pagingQuery } from '../input.js';
import { route } from '../route.js';
import { LABEL_NOTE, LABEL_PATTERN } from '../schemas.js';
import type { ApiDeps } from './api-deps.js';

/** The schema `ShareLink` of schemas.ts (with `url` only when it is created: the token is stored as a digest). */
function shareLinkJson(publicBaseUrl: string, l: ShareLink, token?: string) {
  return {
    sid: l.sid,
    media_sid: l.mediaSid,
    ...(token !== undefined && { url: `${publicBaseUrl}/s/${token}` }),
    expires_at: l.expiresAt.toISOString(),
    max_uses: l.maxUses,
    uses: l.uses,
    last_used_at: l.lastUsedAt?.toISOString() ?? null,
    disposition: l.disposition,
    label: l.label,
    created_at: l.createdAt.toISOString(),
    created_by: l.createdBy,
  };
}

const listQuery = z.object(pagingQuery);
const listNotes = pagingNotes('links');

/** A page of one media's links (the path names it) or of the account's. */
async function linkPage(ctx: Context, deps: ApiDeps, params: Record<string, string>, q: z.infer<typeof listQuery>) {
  const { links, nextPageToken } = await listShareLinks(deps.shareLinks, {
    accountSid: params.accountSid!,
    mediaSid: params.mediaSid,
    principal: principalOf(ctx)!,
    pageSize: q.page_size,
    pageToken: q.page_token,
  });
  return { share_links: links.map((l) => shareLinkJson(deps.publicBaseUrl, l)), next_page_token: nextPageToken };
}

/** Share links: any credential of the account that may read the media (an application: media it may read). */
export const shareLinkRoutes = (limits: { shareLinkMaxSeconds: number; shareUrlTtlSeconds: number }) => {
  const createBody = z.strictObject({
    expires_in: z.int().min(60).max(limits.shareLinkMaxSeconds).optional().meta({
      description: `seconds the link lives, 60 to SHARE_LINK_MAX_SECONDS (${limits.shareLinkMaxSeconds}); default 604800 (7 days)`,
    }),
    max_uses: z.int().min(1).max(1_000_000).optional().meta({ description: 'GETs answered with a redirect or the bytes before the link dies; default unlimited (a media player needs several)' }),
    disposition: z.enum(['inline', 'attachment']).optional().meta({ description: 'how the media is served; default inline (active types are always attachments)' }),
    label: z.string().max(100).optional().meta({ description: `for people, what the link is for: ${LABEL_NOTE}`, pattern: LABEL_PATTERN }),
  });
  return [
    route({
      method: 'POST',
      path: '/v1/accounts/{AccountSid}/media/{MediaSid}/share-links',
      operationId: 'createShareLink',
      tag: 'Share links',
      summary: 'Create a share link to a media item',
      description:
        `A capability URL, \`{PUBLIC_BASE_URL}/s/{token}\`, that reads the media without credentials until it expires, runs out of uses, or is revoked. ` +
        `The token (256 random bits) is in this answer only: it is stored as a digest. Each use is redirected to a store URL living SHARE_URL_TTL_SECONDS (${limits.shareUrlTtlSeconds} s), so a revoked link stops working that soon even for someone who already followed it.`,
      auth: 'account',
      body: { json: createBody, example: { expires_in: 86_400, label: 'voicemail for Ana' }, description: 'Every field is optional.' },
      answers: { 201: { description: 'The link, with its URL (shown this once).', schema: 'ShareLinkCreated' } },
      errors: ['not_found', 'conflict'],
      async handle(ctx, { params, body }, deps: ApiDeps) {
        const b = await body();
        const { link, token } = await createShareLink(deps.shareLinks, principalOf(ctx)!, params.accountSid!, params.mediaSid!, {
          expiresInSeconds: b.expires_in,
          maxUses: b.max_uses,
          disposition: b.disposition,
          label: b.label,
        });
        ctx.status = 201;
        ctx.body = shareLinkJson(deps.publicBaseUrl, link, token);
      },
    }),
    route({
      method: 'GET',
      path: '/v1/accounts/{AccountSid}/media/{MediaSid}/share-links',
      operationId: 'listMediaShareLinks',
      tag: 'Share links',
      summary: "A media item's live share links, newest first",
      auth: 'account',
      query: listQuery,
      queryNotes: listNotes,
      answers: { 200: { description: 'A page of live links (without their URLs).', schema: 'ShareLinkList' } },
      errors: ['invalid_request', 'not_found'],
      async handle(ctx, { params, query }, deps: ApiDeps) {
        ctx.body = await linkPage(ctx, deps, params, query());
      },
    }),
    route({
      method: 'GET',
      path: '/v1/accounts/{AccountSid}/share-links',
      operationId: 'listShareLinks',
      tag: 'Share links',
      summary: "The account's share links, newest first",
      description: 'Every link not deleted, live or not (expired, used up): the owner sees what became of a one-time link. An application sees the links of media it may read.',
      auth: 'account',
      query: listQuery,
      queryNotes: listNotes,
      answers: { 200: { description: 'A page of links (without their URLs).', schema: 'ShareLinkList' } },
      errors: ['invalid_request'],
      async handle(ctx, { params, query }, deps: ApiDeps) {
        ctx.body = await linkPage(ctx, deps, params, query());
      },
    }),
    route({
      method: 'DELETE',
      path: '/v1/accounts/{AccountSid}/share-links/{ShareLinkSid}',
      operationId: 'deleteShareLink',
      tag: 'Share links',
      summary: 'Revoke a share link',
      description: 'The link answers 404 from then on, on every instance; a store URL it handed out before lives at most SHARE_URL_TTL_SECONDS.',
      auth: 'account',
      answers: { 204: { description: 'Revoked.' } },
      errors: ['not_found'],
      async handle(ctx, { params }, deps: ApiDeps) {
        await deleteShareLink(deps.shareLinks, principalOf(ctx)!, params.accountSid!, params.shareLinkSid!);
        ctx.status = 204;
      },
    }),
  ];
};
