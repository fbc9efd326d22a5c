import type Router from '@koa/router';
import type { Context } from 'koa';
import { attachmentDisposition, isActiveContent } from '../../domain/content-disposition.js';
import { NotFound } from '../../domain/errors.js';
import { BLOB_PATH_PREFIX, type LocalStore } from '../../storage/local.js';
import { sendObject } from '../send-object.js';

/**
 * GET/HEAD /v1/blobs/{AccountSid}/{MediaSid}: the local store's signed URLs. Access is
 * the signature alone: an Authorization header (curl -L -u and fetch re-send it on a
 * same-origin redirect) is ignored here.
 */
export function blobRoutes(router: Router, deps: { store: LocalStore; clock: () => Date }): void {
  router.get(`${BLOB_PATH_PREFIX}:accountSid/:mediaSid`, async (ctx: Context) => {
    const mediaSid = ctx.params.mediaSid!;
    const key = `${ctx.params.accountSid}/${mediaSid}`;
    const access = await deps.store.verifyUrl({ key, method: ctx.method, query: ctx.query, now: deps.clock() });
    const file = await deps.store.statObject(key);
    if (!file) throw new NotFound('no such media');
    ctx.set('Cache-Control', 'private, no-transform');
    await sendObject(ctx, {
      etag: `"${mediaSid}"`,
      sizeBytes: file.sizeBytes,
      contentType: access.contentType,
      // Signed URLs of active types already name an attachment; URLs signed before that
      // rule (or by hand) get one here too.
      contentDisposition:
        access.contentDisposition ?? (isActiveContent(access.contentType) ? attachmentDisposition(mediaSid) : undefined),
      lastModified: file.modifiedAt,
      async open(range) {
        const body = await deps.store.read(key, range);
        if (!body) throw new NotFound('no such media');
        return body;
      },
    });
  });
}
