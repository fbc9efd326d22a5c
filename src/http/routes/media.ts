import type { Context } from 'koa';
import { z } from 'zod';
import { checkUploadApplication } from '../../domain/applications.js';
import { InvalidRequest, PayloadTooLarge } from '../../domain/errors.js';
import { deleteMedia, getMedia, listMedia, parseContentType, parseFilename, parseKind, uploadMedia, type Media } from '../../domain/media.js';
import { MEDIA_KINDS } from '../../domain/media-kinds.js';
import { principalOf } from '../auth.js';
import { absentIfEmpty, pagingNotes, pagingQuery } from '../input.js';
import { route } from '../route.js';
import { UnsupportedMediaType } from '../errors.js';
import { CONTENT_TYPE_NOTE, FILENAME_NOTE, FILENAME_PATTERN } from '../schemas.js';
import { readFilePart } from '../multipart.js';
import { watchUploadPace } from '../upload-pace.js';
import type { ApiDeps } from './api-deps.js';

export function mediaUrlOf(publicBaseUrl: string, m: Pick<Media, 'accountSid' | 'sid'>): string {
  return `${publicBaseUrl}/v1/accounts/${m.accountSid}/media/${m.sid}`;
}

/** The schema `Media` of schemas.ts. */
export function mediaJson(publicBaseUrl: string, m: Media) {
  return {
    sid: m.sid,
    account_sid: m.accountSid,
    kind: m.kind,
    content_type: m.contentType,
    size_bytes: m.sizeBytes,
    sha256: m.sha256,
    filename: m.filename,
    created_at: m.createdAt.toISOString(),
    requires_auth: m.requiresAuth,
    application_id: m.applicationId,
    url: mediaUrlOf(publicBaseUrl, m),
  };
}

const listQuery = z.object({ kind: z.preprocess(absentIfEmpty, z.enum(MEDIA_KINDS).optional()), ...pagingQuery });

const uploadQuery = z.object({
  kind: z.string({ error: `kind is required: one of ${MEDIA_KINDS.join(', ')}` }),
  filename: z.string().optional(),
  application_id: z.uuid({ error: 'must be an application id' }).optional(),
});

/** The media API: any credential of the account. */
export const mediaRoutes = (limits: { mediaMaxBytes: number }) => [
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/media/{MediaSid}.json',
    operationId: 'getMedia',
    tag: 'Media',
    summary: "A media item's metadata",
    auth: 'account',
    answers: { 200: { description: 'The metadata.', schema: 'Media' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      ctx.body = mediaJson(deps.publicBaseUrl, await getMedia(deps, params.accountSid!, params.mediaSid!, principalOf(ctx)!));
    },
  }),
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/media',
    operationId: 'listMedia',
    tag: 'Media',
    summary: 'List media, newest first',
    description: 'Paged: pass `next_page_token` back as `page_token` until it is null. A JWT lists only what its application may reach.',
    auth: 'account',
    query: listQuery,
    queryNotes: {
      kind: { description: 'only media of this kind' },
      ...pagingNotes('media'),
    },
    answers: { 200: { description: 'A page of media.', schema: 'MediaList' } },
    errors: ['invalid_request'],
    async handle(ctx, { params, query }, deps: ApiDeps) {
      const q = query();
      const principal = principalOf(ctx);
      const { media, nextPageToken } = await listMedia(deps, {
        accountSid: params.accountSid!,
        applicationId: principal?.type === 'application' ? principal.credentialSid : undefined,
        kind: q.kind,
        pageSize: q.page_size,
        pageToken: q.page_token,
      });
      ctx.body = { media: media.map((m) => mediaJson(deps.publicBaseUrl, m)), next_page_token: nextPageToken };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/media',
    operationId: 'uploadMedia',
    tag: 'Media',
    summary: 'Upload media',
    description:
      "The body is the raw bytes with the media's own `Content-Type` (kept and served back), or a `multipart/form-data` form holding exactly one file part (`curl -F file=@cat.jpg`, an HTML form) whose file name and type are used unless the query names them; either way streamed to the object store. " +
      'A form-encoded body or one without a `Content-Type` (what `curl --data-binary` sends without `-H`) is refused with 415: nothing is stored. ' +
      `The media records whether its kind is protected at this moment (\`requires_auth\`). Empty body, no file part or several: 400; over MEDIA_MAX_BYTES (${limits.mediaMaxBytes}): 413.`,
    auth: 'account',
    query: uploadQuery,
    queryNotes: {
      kind: { description: `the media's kind: ${MEDIA_KINDS.join(', ')}`, schema: { enum: [...MEDIA_KINDS] }, example: 'message' },
      filename: {
        description: `a display name, instead of the form's file name: ${FILENAME_NOTE}`,
        schema: { maxLength: 255, pattern: FILENAME_PATTERN },
        example: 'a.jpg',
      },
      application_id: {
        description:
          "bind the media to this application of the account: its JWTs (and the account's token and keys) reach it, other applications' do not. " +
          'An id that names no application of the account: 400 `application_id names no application of this account`; a JWT naming another application than its own: 403.',
      },
    },
    body: {
      other: {
        required: true,
        description: `The bytes, with the media's own Content-Type (${CONTENT_TYPE_NOTE}); or a form with one file part. At most MEDIA_MAX_BYTES (${limits.mediaMaxBytes} bytes): 413 beyond, nothing stored.`,
        content: {
          'multipart/form-data': {
            schema: { type: 'object', properties: { file: { type: 'string', format: 'binary', description: 'the media (any field name; exactly one file part)' } }, required: ['file'] },
            encoding: { file: { contentType: '*/*' } },
          },
          '*/*': { schema: { type: 'string', format: 'binary' } },
        },
      },
    },
    answers: { 201: { description: 'Stored.', schema: 'Media', headers: { Location: { $ref: '#/components/headers/Location', description: 'the media URL' } } } },
    errors: ['invalid_request', 'not_found', 'request_timeout', 'payload_too_large', 'unsupported_media_type'],
    async handle(ctx, { params, query }, deps: ApiDeps) {
      const q = query();
      const accountSid = params.accountSid!;
      const kind = parseKind(q.kind);
      const type = ctx.get('Content-Type');
      if (type.trim() === '' || FORM_URLENCODED.test(type)) throw new UnsupportedMediaType(SEND_THE_MEDIA_TYPE);
      const applicationId = q.application_id === undefined ? null : q.application_id.toLowerCase();
      if (applicationId !== null) await checkUploadApplication(deps.db, accountSid, applicationId, principalOf(ctx));
      const stopWatching = watchUploadPace(ctx, deps.uploadPace);
      try {
        let media: Media;
        if (MULTIPART.test(type)) {
          // A form (curl -F, an HTML form): its one file part is the media, named and
          // typed as the part says unless the query names it.
          const file = await readFilePart(ctx, deps.mediaMaxBytes);
          media = await uploadMedia(deps, {
            accountSid,
            kind,
            filename: parseFilename(q.filename ?? file.filename),
            contentType: parseContentType(file.contentType),
            applicationId,
            body: file.stream,
            bodyComplete: file.rest,
          });
        } else {
          const filename = parseFilename(q.filename);
          const contentType = parseContentType(type);
          const declaredBytes = checkDeclaredLength(ctx, deps.mediaMaxBytes);
          media = await uploadMedia(deps, { accountSid, kind, filename, contentType, applicationId, body: ctx.req, declaredBytes });
        }
        ctx.status = 201;
        ctx.set('Location', mediaUrlOf(deps.publicBaseUrl, media));
        ctx.body = mediaJson(deps.publicBaseUrl, media);
      } finally {
        stopWatching();
      }
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/accounts/{AccountSid}/media/{MediaSid}',
    operationId: 'deleteMedia',
    tag: 'Media',
    summary: 'Delete media',
    description: 'Removes the object from the store; the media URL answers 404 from then on.',
    auth: 'account',
    answers: { 204: { description: 'Deleted.' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      await deleteMedia(deps, params.accountSid!, params.mediaSid!, principalOf(ctx)!);
      ctx.status = 204;
    },
  }),
];

const MULTIPART = /^multipart\/form-data\s*(;|$)/i;
const FORM_URLENCODED = /^application\/x-www-form-urlencoded\s*(;|$)/i;
// What curl --data-binary sends without -H: the bytes would be stored as a form, and served back so.
const SEND_THE_MEDIA_TYPE =
  "send the media's own Content-Type, such as image/jpeg; with curl: -H 'Content-Type: image/jpeg' (or send a form with one file: curl -F file=@cat.jpg)";

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
