import type { Context } from 'koa';
import type { ByteRange, ServedObject } from '../domain/served-object.js';
import { SANDBOX_CSP } from './browser-policy.js';
import { HttpError } from './errors.js';

/** Parses a single `bytes=` range (RFC 9110 §14.1.2); undefined means "serve it all". */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
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
 * Whether a Range still applies under If-Range (RFC 9110 §13.1.5): only while the
 * validator names this very representation, an entity tag by strong comparison (a weak
 * one never matches) or the exact Last-Modified date; otherwise the whole object is sent.
 */
export function rangeStillApplies(ifRange: string, object: Pick<ServedObject, 'etag' | 'lastModified'>): boolean {
  const validator = ifRange.trim();
  if (validator === '') return true;
  if (validator.startsWith('"')) return validator === object.etag && !object.etag.startsWith('W/');
  if (validator.startsWith('W/')) return false;
  const date = Date.parse(validator);
  return object.lastModified !== undefined && !Number.isNaN(date) && date === Math.floor(object.lastModified.getTime() / 1000) * 1000;
}

/**
 * Answers with an object's bytes as a file server would: ETag and If-None-Match (304),
 * one Range (206, or 416 when unsatisfiable) unless If-Range no longer matches (200 with
 * everything), HEAD without opening anything. A stream
 * is only opened once the answer is known, and Koa destroys it if the client leaves,
 * which releases the store's connection (S3) or file.
 */
export async function sendObject(ctx: Context, object: ServedObject): Promise<void> {
  // Served files run nothing, even if opened as a document: no script, no plugin, no
  // same-origin access (active types are also attachments: domain/content-disposition).
  ctx.set('Content-Security-Policy', SANDBOX_CSP);
  const ifNoneMatch = ctx.get('If-None-Match');
  const notModified =
    ifNoneMatch !== '' && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === object.etag));
  const rangeHeader = ctx.get('Range');
  const range = rangeHeader && !notModified && rangeStillApplies(ctx.get('If-Range'), object) ? parseRange(rangeHeader, object.sizeBytes) : undefined;
  if (range === 'unsatisfiable') {
    ctx.set('Content-Range', `bytes */${object.sizeBytes}`);
    throw new HttpError('range_not_satisfiable', 'the requested range is not satisfiable');
  }
  // The object's own headers, once the answer is one about the object (not an error).
  ctx.set('ETag', object.etag);
  ctx.set('Accept-Ranges', 'bytes');
  if (object.lastModified) ctx.set('Last-Modified', object.lastModified.toUTCString());
  if (notModified) {
    ctx.status = 304;
    return;
  }
  if (object.contentDisposition) ctx.set('Content-Disposition', object.contentDisposition);
  ctx.status = range ? 206 : 200;
  if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${object.sizeBytes}`);
  ctx.set('Content-Type', object.contentType);
  ctx.length = range ? range.end - range.start + 1 : object.sizeBytes;
  if (ctx.method === 'HEAD') return;
  ctx.body = await object.open(range);
}
