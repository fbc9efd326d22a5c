import type { Context, Next } from 'koa';
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { HttpError } from './http-errors.js';
import { DomainError, type ErrorCode, InvalidRequest, NotFound, ServiceUnavailable, TooManyRequests } from '../domain/errors.js';

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

// pg and network errors that mean "the database is unreachable", not a bug.
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && UNAVAILABLE_ERRNOS.has(e.code)) return true;
  // SQLSTATE class 08 (connection exception), 57P01-03 (admin shutdown, crash, cannot connect now), 57014 (statement timeout)
  if (e.code && (/^08/.test(e.code) || /^57P0[123]$/.test(e.code) || e.code === '57014')) return true;
  const m = e.message ?? '';
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout/i.test(m);
}

/** Node destroys a request whose client closed mid-body with an 'aborted' ECONNRESET. */
function clientWentAway(ctx: Context): boolean {
  return (ctx.req.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET';
}

/** SQLSTATE class 22: data exception (invalid text, numeric out of range, ...). */
function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/**
 * Maps every error to the contract's JSON body. Domain errors carry their own safe
 * message; Koa HTTP errors (405, 413 from a parser) keep theirs only when `expose`d;
 * anything else is a 500 whose details go to the log, never to the client.
 */
export function errorHandler(log: Logger) {
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
      let err = caught;
      if (ctx.req.errored instanceof HttpError) {
        // We cut the request off ourselves (a stalled upload): that, not the downstream
        // failure it caused, is the answer.
        err = ctx.req.errored;
      } else if (clientWentAway(ctx)) {
        // Whatever failed downstream (a store write, a read of the body) failed because
        // the client left: its doing, not an outage (no 503 in logs or metrics).
        err = new InvalidRequest('the request was cut short by the client');
      } else if (!(err instanceof DomainError) && isDatabaseUnavailable(err)) {
        err = new ServiceUnavailable('the database is unavailable');
      } else if (isDataException(err)) {
        // A value PostgreSQL cannot take (a NUL byte, an out-of-range number) that input
        // validation let through: the client's input, not our failure. Logged to be fixed.
        log.warn({ err, request_id: ctx.state.requestId }, 'database refused a value that validation let through');
        err = new InvalidRequest('the request holds a value that cannot be stored or searched');
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
        const e = err as { status?: unknown; statusCode?: unknown; expose?: boolean; message?: string };
        const raw = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
        status = raw >= 400 && raw <= 599 ? raw : 500;
        body = errorBody(status, undefined, status < 500 && e.expose ? e.message : undefined);
        if (status >= 500) {
          log.error({ err, request_id: ctx.state.requestId }, 'unhandled error');
        }
        if (typeof (e as { headers?: unknown }).headers === 'object') {
          const headers = (e as { headers: Record<string, string> }).headers;
          if (headers.Allow ?? headers.allow) ctx.set('Allow', headers.Allow ?? headers.allow!);
        }
      }
      if (status === 401) ctx.set('WWW-Authenticate', WWW_AUTHENTICATE);
      ctx.status = status;
      ctx.body = body;
      ctx.state.errorCode = body.error.code;
    }
  }
}
