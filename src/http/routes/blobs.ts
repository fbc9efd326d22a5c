import Router from '@koa/router';
import { createReadStream } from 'node:fs';
import type { Context } from 'koa';
import { attachmentDisposition, isActiveContent } from '../../domain/content-disposition.js';
import { NotFound } from '../../domain/errors.js';
import type { LocalStore } from '../../storage/local.js';

/** Parses a single `bytes=` range (RFC 9110 §14.1.2); undefined means "serve it all". */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // malformed or multi-range: ignore
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

/**
 * GET/HEAD /v1/blobs/{AccountSid}/{MediaSid}: the local store's signed URLs. Access is
 * the signature alone: an Authorization header (curl -L -u and fetch re-send it on a
 * same-origin redirect) is ignored here.
 */
export function blobRoutes(router: Router, deps: { store: LocalStore; clock: () => Date }): void {
  router.get('/v1/blobs/:accountSid/:mediaSid', async (ctx: Context) => {
    // Whatever a stored file holds, it runs nothing here: no script, no plugin, no
    // same-origin access, even if opened as a document.
    ctx.set('Content-Security-Policy', "sandbox; default-src 'none'");
    const key = `${ctx.params.accountSid}/${ctx.params.mediaSid}`;
    const access = await deps.store.verifyUrl({ key, method: ctx.method, query: ctx.query, now: deps.clock() });
    const file = await deps.store.statObject(key);
    if (!file) throw new NotFound('no such media');

    // Objects never change once stored: the media sid is a strong validator.
    const etag = `"${ctx.params.mediaSid}"`;
    ctx.set('ETag', etag);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Last-Modified', file.modifiedAt.toUTCString());
    ctx.set('Cache-Control', 'private, no-transform');
    // Signed URLs of active types already name an attachment; URLs signed before that
    // rule (or by hand) get one here too.
    const disposition =
      access.contentDisposition ?? (isActiveContent(access.contentType) ? attachmentDisposition(ctx.params.mediaSid!) : undefined);
    if (disposition) ctx.set('Content-Disposition', disposition);

    const ifNoneMatch = ctx.get('If-None-Match');
    if (ifNoneMatch && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))) {
      ctx.status = 304;
      return;
    }

    let start = 0;
    let end = file.sizeBytes - 1;
    const rangeHeader = ctx.get('Range');
    const range = rangeHeader ? parseRange(rangeHeader, file.sizeBytes) : undefined;
    if (range === 'unsatisfiable') {
      ctx.set('Content-Range', `bytes */${file.sizeBytes}`);
      ctx.throw(416, 'the requested range is not satisfiable');
    }
    ctx.status = 200;
    if (range) {
      ({ start, end } = range);
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${start}-${end}/${file.sizeBytes}`);
    }
    // Exactly the stored type (ctx.type would add a charset to text types).
    ctx.set('Content-Type', access.contentType);
    ctx.length = end - start + 1;
    // HEAD: headers only, and no file opened (Koa would not consume a stream).
    if (ctx.method === 'HEAD') return;
    ctx.body = createReadStream(file.path, { start, end });
  });
}
