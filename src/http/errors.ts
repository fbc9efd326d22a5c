import type { Context, Next } from 'koa';
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { HttpError } from './http-errors.js';
import { wantsBasicChallenge } from './auth.js';
import { isDatabaseUnavailable, isDataException } from '../db/errors.js';
import { InvalidSignedUrl, ObjectTooLarge, StoreUnavailable } from '../storage/errors.js';
import { DomainError, type ErrorCode, Forbidden, InvalidRequest, NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests } from '../domain/errors.js';

// The one place where errors become HTTP responses.
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  service_unavailable: 503,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  405: 'method_not_allowed',
  411: 'length_required',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'too_many_requests',
  431: 'request_header_fields_too_large',
  501: 'not_implemented',
  503: 'service_unavailable',
};

export const WWW_AUTHENTICATE = 'Basic realm="mediagate"';

export interface ErrorBody {
  error: { status: number; code: string; message: string };
}

export function errorBody(status: number, code: string | undefined, message: string | undefined): ErrorBody {
  return {
    error: {
      status,
      code: code ?? CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'error'),
      message: message ?? STATUS_CODES[status] ?? 'error',
    },
  };
}

/** Node destroys a request whose client closed mid-body with an 'aborted' ECONNRESET. */
function clientWentAway(ctx: Context): boolean {
  return (ctx.req.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET';
}

/**
 * Maps every error to the contract's JSON body. Domain errors carry their own safe
 * message; Koa HTTP errors (405, 413 from a parser) keep theirs only when `expose`d;
 * anything else is a 500 whose details go to the log, never to the client.
 */
export function errorHandler(log: Logger, metrics: Pick<Metrics, 'dependencyErrors'>) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await answerErrors(ctx, next);
    } finally {
      // Whatever the answer, a body left unread (a refused upload, a 405 to a POST, a
      // body dripped byte by byte) must not keep the connection: Node would otherwise
      // read and discard it to reuse the socket, for as long as the client sends.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
    }
  };

  async function answerErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      // Nothing answered: no route matched. (The router's allowedMethods, further in,
      // answers a known path with another method 405 with an Allow header, and an
      // unknown method 501, both without a body: give them the JSON one.)
      if (ctx.status === 404 && ctx.body == null) throw new NotFound('no such route');
      if (ctx.status >= 400 && ctx.body == null && ctx.method !== 'HEAD') {
        const body = errorBody(ctx.status, undefined, undefined);
        ctx.body = body;
        ctx.state.errorCode = body.error.code;
      }
    } catch (caught) {
      const err = classify(caught, ctx);
      const failed = failedDependency(caught);
      if (err instanceof ServiceUnavailable && failed) {
        // The access line says why (the store's or the driver's words, never a secret).
        metrics.dependencyErrors.inc({ dependency: failed.dependency });
        ctx.state.errorCause = `${failed.dependency}: ${failed.cause}`;
      }
      if (err instanceof InvalidRequest && isDataException(caught)) {
        // A value validation let through (a NUL byte, an out-of-range number): logged to be fixed.
        log.warn({ err: caught, request_id: ctx.state.requestId }, 'database refused a value that validation let through');
      }
      let status: number;
      let body: ErrorBody;
      if (err instanceof HttpError) {
        status = err.status;
        body = errorBody(status, err.code, err.message);
      } else if (err instanceof DomainError) {
        status = STATUS_BY_CODE[err.code];
        body = errorBody(status, err.code, err.message);
        if (err instanceof TooManyRequests || err instanceof ServiceUnavailable) {
          ctx.set('Retry-After', String(err.retryAfterSeconds));
        }
      } else {
        // Koa's own HTTP errors (ctx.throw) keep their status, and their message only when
        // marked safe; anything else is a 500 whose details go to the log alone.
        const e = err as { status?: unknown; expose?: boolean; message?: string };
        const raw = typeof e.status === 'number' ? e.status : 500;
        status = raw >= 400 && raw <= 599 ? raw : 500;
        body = errorBody(status, undefined, status < 500 && e.expose ? e.message : undefined);
        if (status >= 500) log.error({ err, request_id: ctx.state.requestId }, 'unhandled error');
      }
      if (status === 401 && wantsBasicChallenge(ctx)) ctx.set('WWW-Authenticate', WWW_AUTHENTICATE);
      ctx.status = status;
      ctx.body = body;
      ctx.state.errorCode = body.error.code;
    }
  }
}

/** The dependency whose failure this is, and its own account of it. */
function failedDependency(err: unknown): { dependency: 'database' | 'object_store'; cause: string } | undefined {
  if (err instanceof StoreUnavailable) return { dependency: 'object_store', cause: err.reason };
  if (isDatabaseUnavailable(err)) return { dependency: 'database', cause: String((err as Error).message).slice(0, 300) };
  return undefined;
}

/** What an error means to the client, whichever layer threw it. */
function classify(err: unknown, ctx: Context): unknown {
  // We cut the request off ourselves (a stalled upload): that, not the downstream
  // failure it caused, is the answer.
  if (ctx.req.errored instanceof HttpError) return ctx.req.errored;
  // Whatever failed downstream (a store write, a read of the body) failed because the
  // client left: its doing, not an outage (no 503 in logs or metrics).
  if (clientWentAway(ctx)) return new InvalidRequest('the request was cut short by the client');
  if (err instanceof DomainError || err instanceof HttpError) return err;
  if (err instanceof ObjectTooLarge) return new PayloadTooLarge(err.maxBytes);
  if (err instanceof StoreUnavailable) return new ServiceUnavailable(err.message);
  if (err instanceof InvalidSignedUrl) return new Forbidden(err.message);
  if (isDatabaseUnavailable(err)) return new ServiceUnavailable('the database is unavailable');
  if (isDataException(err)) return new InvalidRequest('the request holds a value that cannot be stored or searched');
  return err;
}
