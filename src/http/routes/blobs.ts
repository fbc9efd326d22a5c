import { BLOB_PATH_PREFIX, openBlob, receiveUpload, type LocalStore } from '../../domain/blobs.js';
import { route, type Route } from '../route.js';
import { sendObject } from '../send-object.js';
import { watchUploadPace, type UploadPace } from '../upload-pace.js';

export interface BlobDeps {
  localStore: LocalStore;
  clock: () => Date;
  uploadPace: UploadPace;
}

const blobAnswers = (method: 'GET' | 'HEAD') => ({
  200: {
    description: 'The bytes' + (method === 'HEAD' ? ' (headers only).' : '.'),
    content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
    headers: {
      ETag: 'ETag',
      'Accept-Ranges': 'Accept-Ranges',
      'Content-Security-Policy': 'Content-Security-Policy-Sandbox',
      'Content-Disposition': 'Content-Disposition',
      'Access-Control-Allow-Origin': 'Access-Control-Allow-Origin-Any',
    },
  },
  206: {
    description: 'The part one `Range` asked for.',
    content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
    headers: { 'Content-Range': 'Content-Range', ETag: 'ETag', 'Accept-Ranges': 'Accept-Ranges' },
  },
  304: { description: '`If-None-Match` names the ETag.', headers: { ETag: 'ETag' } },
});

/**
 * GET/HEAD of the local store's signed URLs. Access is the signature alone: an
 * Authorization header (curl -L -u and fetch re-send it on a same-origin redirect) is
 * ignored here.
 */
export const blobRoutes = (): Route<BlobDeps>[] => [
  ...(['GET', 'HEAD'] as const).map((method) =>
    route({
      method,
      path: `${BLOB_PATH_PREFIX}{AccountSid}/{MediaSid}`,
      operationId: method === 'GET' ? 'getBlob' : 'headBlob',
      tag: 'Blobs',
      summary: "The local store's signed URL (where the media URL's 302 leads)",
      description:
        'Only with the local-disk store (no S3_BUCKET), on BLOB_BASE_URL (default PUBLIC_BASE_URL). Access is the signature alone (Ed25519): an `Authorization` header is ignored. ' +
        'A URL signed for GET also serves HEAD; one signed for HEAD serves only HEAD. Any origin may fetch it (`Access-Control-Allow-Origin: *`); the bytes run nothing (`Content-Security-Policy: sandbox`), and active types (HTML, SVG, XML, JavaScript, …) are served as attachments.',
      auth: 'none',
      parameters: [
        { name: 'exp', in: 'query', required: true, description: 'expiry, seconds since the epoch', schema: { type: 'string', pattern: '^\\d{1,12}$' } },
        { name: 'kid', in: 'query', required: true, description: 'the signing key', schema: { type: 'string' } },
        { name: 'ct', in: 'query', required: true, description: 'the Content-Type served', schema: { type: 'string' } },
        { name: 'cd', in: 'query', required: false, description: 'the Content-Disposition served', schema: { type: 'string' } },
        { name: 'sig', in: 'query', required: true, description: 'Ed25519 signature, base64url', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' } },
        { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
        { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
      ],
      answers: {
        ...blobAnswers(method),
        403: { description: 'The URL is not a valid signed URL, its signature is wrong, or it has expired.', schema: 'Error403' },
      },
      // 503: the local disk failed to read (EIO, EACCES: storage/local.ts).
      errors: ['not_found', 'range_not_satisfiable', 'service_unavailable'],
      async handle(ctx, { params }, deps: BlobDeps) {
        ctx.set('Cache-Control', 'private, no-transform');
        const blob = await openBlob(deps.localStore, {
          accountSid: params.accountSid!,
          mediaSid: params.mediaSid!,
          method: ctx.method,
          query: ctx.query,
          now: deps.clock(),
        });
        await sendObject(ctx, blob);
      },
    }),
  ),
  route({
    method: 'PUT',
    path: `${BLOB_PATH_PREFIX}{AccountSid}/{MediaSid}`,
    operationId: 'putBlob',
    tag: 'Blobs',
    summary: "A direct upload's PUT to the local store (the URL POST …/media/uploads answered)",
    description:
      'Only with the local-disk store. The signature covers the object, expiry, Content-Type and length (and a sha256 when one was declared): ' +
      'a body of another size or type, or other bytes, is refused, and nothing is kept. One object per URL: once stored, the URL takes no other PUT.',
    auth: 'none',
    parameters: [
      { name: 'exp', in: 'query', required: true, description: 'expiry, seconds since the epoch', schema: { type: 'string', pattern: '^\\d{1,12}$' } },
      { name: 'kid', in: 'query', required: true, description: 'the signing key', schema: { type: 'string' } },
      { name: 'ct', in: 'query', required: true, description: 'the Content-Type the PUT must carry', schema: { type: 'string' } },
      { name: 'len', in: 'query', required: true, description: 'the Content-Length the PUT must carry', schema: { type: 'string', pattern: '^[1-9]\\d{0,15}$' } },
      { name: 'sha', in: 'query', required: false, description: 'the sha256 the bytes must have, hex', schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
      { name: 'sig', in: 'query', required: true, description: 'Ed25519 signature, base64url', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' } },
    ],
    body: { other: { required: true, description: 'The bytes, exactly as declared.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } } },
    answers: {
      200: { description: 'Stored.', headers: { ETag: 'ETag' } },
      403: { description: 'The URL is not valid, has expired or was used, or the body is not of the signed length or type.', schema: 'Error403' },
    },
    errors: ['invalid_request', 'request_timeout', 'service_unavailable'],
    async handle(ctx, { params }, deps: BlobDeps) {
      const stopWatching = watchUploadPace(ctx, deps.uploadPace);
      try {
        const stored = await receiveUpload(deps.localStore, {
          accountSid: params.accountSid!,
          mediaSid: params.mediaSid!,
          query: ctx.query,
          now: deps.clock(),
          contentType: ctx.get('Content-Type'),
          contentLength: ctx.get('Content-Length'),
          body: ctx.req,
        });
        ctx.set('ETag', `"${stored.sha256}"`);
        ctx.status = 200;
        ctx.body = '';
      } finally {
        stopWatching();
      }
    },
  }),
];
