import { z } from 'zod';
import { completeUpload, startUpload } from '../../domain/uploads.js';
import { MEDIA_KINDS } from '../../domain/media-kinds.js';
import { principalOf } from '../auth.js';
import { route } from '../route.js';
import { CONTENT_TYPE_NOTE, CONTENT_TYPE_PATTERN, FILENAME_NOTE, FILENAME_PATTERN } from '../schemas.js';
import type { ApiDeps } from './api-deps.js';
import { mediaJson, mediaUrlOf } from './media.js';

/** Direct uploads: any credential of the account (an application: for itself, or no application). */
export const uploadRoutes = (limits: { mediaMaxBytes: number; uploadUrlTtlSeconds: number }) => {
  const startBody = z.strictObject({
    kind: z.enum(MEDIA_KINDS),
    content_type: z
      .string()
      .min(1)
      .max(255)
      .meta({ description: `the media type the store will serve it with: ${CONTENT_TYPE_NOTE} (blank: application/octet-stream)`, pattern: CONTENT_TYPE_PATTERN }),
    size_bytes: z.int().min(1).max(limits.mediaMaxBytes).meta({ description: `exactly the bytes the PUT will carry, up to MEDIA_MAX_BYTES (${limits.mediaMaxBytes})` }),
    filename: z.string().max(255).optional().meta({ description: `a display name: ${FILENAME_NOTE}`, pattern: FILENAME_PATTERN }),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional().meta({ description: 'hex: checked on completion (S3 also refuses other bytes on the PUT)' }),
    application_id: z
      .uuid()
      .optional()
      .meta({
        description:
          'bind the media to this application of the account (as `?application_id=` of an upload): one that names no application of the account is 400 `application_id names no application of this account`; a JWT naming another application than its own is 403',
      }),
  });
  return [
    route({
      method: 'POST',
      path: '/v1/accounts/{AccountSid}/media/uploads',
      operationId: 'startUpload',
      tag: 'Media',
      summary: 'Start a direct upload: a URL to PUT the bytes to, straight to the store',
      description:
        `The answer names a URL of the store (S3, or the local store's blob endpoint) signed for one \`PUT\` of exactly \`size_bytes\` of \`content_type\`, valid UPLOAD_URL_TTL_SECONDS (${limits.uploadUrlTtlSeconds} s); send it with exactly \`headers\`. ` +
        'The bytes never pass through the service. Then complete the upload: the media is created then.',
      auth: 'account',
      body: { json: startBody, example: { kind: 'recording', content_type: 'audio/wav', size_bytes: 482_044, filename: 'voicemail.wav' } },
      answers: { 201: { description: 'Where and how to PUT the bytes.', schema: 'UploadStarted' } },
      async handle(ctx, { params, body }, deps: ApiDeps) {
        const b = await body();
        const started = await startUpload(deps.uploads, principalOf(ctx)!, params.accountSid!, {
          kind: b.kind,
          contentType: b.content_type,
          sizeBytes: b.size_bytes,
          filename: b.filename,
          sha256: b.sha256,
          applicationId: b.application_id,
        });
        ctx.status = 201;
        ctx.body = { upload_id: started.uploadId, url: started.url, method: started.method, headers: started.headers, expires_at: started.expiresAt.toISOString() };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/accounts/{AccountSid}/media/uploads/{UploadId}/complete',
      operationId: 'completeUpload',
      tag: 'Media',
      summary: 'Complete a direct upload: the media is created from what the store holds',
      description:
        'Checks the stored object (there, of the declared size and type, and sha256 when one was given) and creates the media as an upload through the service does: `requires_auth` from its kind\'s switch at this moment. ' +
        'Completing again answers the same media (200). An object not there yet: 409; one that does not match: 409, and it is removed. Uploads never completed are removed by `mediagate gc` once their URL has expired.',
      auth: 'account',
      answers: {
        201: { description: 'The media, created now.', schema: 'Media', headers: { Location: { $ref: '#/components/headers/Location', description: 'the media URL' } } },
        200: { description: 'The media, created by an earlier completion.', schema: 'Media' },
      },
      errors: ['not_found', 'conflict'],
      async handle(ctx, { params }, deps: ApiDeps) {
        const { media, created } = await completeUpload(deps.uploads, principalOf(ctx)!, params.accountSid!, params.uploadId!);
        ctx.status = created ? 201 : 200;
        if (created) ctx.set('Location', mediaUrlOf(deps.publicBaseUrl, media));
        ctx.body = mediaJson(deps.publicBaseUrl, media);
      },
    }),
  ];
};
