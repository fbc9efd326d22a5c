import { STATUS_CODES } from 'node:http';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isDatabaseUnavailable, isDataException } from '../db/errors.js';
import { DomainError, type ErrorCode, InvalidRequest, PayloadTooLarge, ServiceUnavailable, TooManyRequests } from '../domain/errors.js';
import type { Metrics } from '../metrics.js';
import { InvalidSignedUrl, ObjectTooLarge, StoreUnavailable } from '../storage/errors.js';

// The one place where errors become HTTP answers: every code the service answers with,
// its status, and what the API reference says of it. Domain errors carry a code and a
// message for people; the status is decided here alone.

interface ErrorEntry {
  status: number;
  /** when the reference says this status is answered */
  description: string;
  /** a message of this code, for the reference */
  example: string;
}

export const ERRORS = {
  invalid_request: { status: 400, description: 'A parameter or body is not valid; the message names the problem.', example: 'kind must be one of message, recording, fax' },
  unauthorized: { status: 401, description: 'Credentials are missing where they are required, malformed, unknown, wrong or revoked.', example: 'valid credentials are required' },
  forbidden: {
    status: 403,
    description: 'Valid credentials that may not do this (another account, a key where the auth token is needed), or a state-changing request from a page of another origin.',
    example: 'these credentials belong to another account',
  },
  not_found: {
    status: 404,
    description: 'No such thing in this account (never existed, deleted or expired; a malformed id names nothing either), or no such path: any path this document does not name.',
    example: 'no such media',
  },
  method_not_allowed: {
    status: 405,
    description: 'The path exists, not with this method (any path of this document, with a method it does not list): `Allow` lists those it takes.',
    example: 'use one of GET, HEAD, DELETE',
  },
  request_timeout: { status: 408, description: 'The body did not arrive in time (a JSON body within JSON_BODY_TIMEOUT_SECONDS; an upload must keep a minimum pace).', example: 'the request body was not received in time' },
  conflict: {
    status: 409,
    description: 'The request does not fit the current state: nothing to promote, or the account already holds the most it may of a kind (API_KEYS_PER_ACCOUNT, APPLICATIONS_PER_ACCOUNT, SHARE_LINKS_PER_ACCOUNT).',
    example: 'there is no secondary auth token to promote',
  },
  payload_too_large: { status: 413, description: 'The body is over its limit (MEDIA_MAX_BYTES for uploads, JSON_BODY_MAX_BYTES for JSON bodies).', example: 'the body exceeds the limit of 104857600 bytes' },
  uri_too_long: { status: 414, description: 'The request line is too long.', example: 'URI Too Long' },
  unsupported_media_type: { status: 415, description: 'A body sent with a Content-Type this route does not take.', example: 'the body must be JSON, sent as Content-Type: application/json' },
  range_not_satisfiable: { status: 416, description: 'The Range asked for lies outside the object.', example: 'the requested range is not satisfiable' },
  too_many_requests: {
    status: 429,
    description: 'Too many failed authentications from this client address (or against this credential, for requests whose own credentials do not verify).',
    example: 'too many failed authentication attempts; retry later',
  },
  request_header_fields_too_large: {
    status: 431,
    description: "The request's headers, its request line included (a long URL too), are over 16 KB: refused before it reaches a route, so without X-Request-Id; the connection closes.",
    example: 'Request Header Fields Too Large',
  },
  internal_error: { status: 500, description: 'A failure of the service itself; the log line with the same X-Request-Id says what.', example: 'Internal Server Error' },
  not_implemented: { status: 501, description: 'A method the service does not know.', example: 'Not Implemented' },
  service_unavailable: { status: 503, description: 'The database or the object store cannot be reached; retry later.', example: 'the database is unavailable' },
} as const satisfies Record<string, ErrorEntry>;

export type AnsweredCode = keyof typeof ERRORS;
// Every code the domain throws has its row (a compile error otherwise).
const DOMAIN_CODES_ANSWERED: Record<ErrorCode, ErrorEntry> = ERRORS;
void DOMAIN_CODES_ANSWERED;

const CODE_BY_STATUS = new Map<number, AnsweredCode>(Object.entries(ERRORS).map(([code, e]) => [e.status, code as AnsweredCode]));

/** The code the service answers a status with. */
export const codeOf = (status: number): string => CODE_BY_STATUS.get(status) ?? (status >= 500 ? 'internal_error' : 'error');

/** Refusals that belong to HTTP itself (how a request was sent, not what it asks for); domain code never sees them. */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: AnsweredCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
    this.status = ERRORS[code].status;
  }
}

export class UnsupportedMediaType extends HttpError {
  constructor(message: string) {
    super('unsupported_media_type', message);
  }
}

/** The client took too long to send its request (a dripped body). */
export class RequestTimeout extends HttpError {
  constructor(message = 'the request body was not received in time') {
    super('request_timeout', message);
  }
}

export const WWW_AUTHENTICATE = 'Basic realm="mediagate"';

export interface ErrorBody {
  error: { status: number; code: string; message: string };
}

export function errorBody(status: number, code: string | undefined, message: string | undefined): ErrorBody {
  return { error: { status, code: code ?? codeOf(status), message: message ?? STATUS_CODES[status] ?? 'error' } };
}

export interface ErrorAnswerDeps {
  log: Logger;
  metrics: Pick<Metrics, 'dependencyErrors'>;
}

/**
 * Answers `caught` with the contract's JSON body. Domain errors carry their own safe
 * message; Koa HTTP errors keep theirs only when `expose`d; anything else is a 500 whose
 * details go to the log, never to the client. `challenge`: the WWW-Authenticate a 401
 * carries where the request was made (its area decides).
 */
export function answerError(ctx: Context, caught: unknown, deps: ErrorAnswerDeps, challenge: string | undefined): void {
  const err = classify(caught, ctx);
  const failed = failedDependency(caught);
  if (err instanceof ServiceUnavailable && failed) {
    // The access line says why (the store's or the driver's words, never a secret).
    deps.metrics.dependencyErrors.inc({ dependency: failed.dependency });
    ctx.state.errorCause = `${failed.dependency}: ${failed.cause}`;
  }
  if (err instanceof InvalidRequest && isDataException(caught)) {
    // A value validation let through (a NUL byte, an out-of-range number): logged to be fixed.
    deps.log.warn({ err: caught, request_id: ctx.state.requestId }, 'database refused a value that validation let through');
  }
  let body: ErrorBody;
  if (err instanceof HttpError) {
    body = errorBody(err.status, err.code, err.message);
  } else if (err instanceof DomainError) {
    body = errorBody(ERRORS[err.code].status, err.code, err.message);
    if (err instanceof TooManyRequests || err instanceof ServiceUnavailable) ctx.set('Retry-After', String(err.retryAfterSeconds));
  } else {
    // Koa's own HTTP errors keep their status, and their message only when marked safe;
    // anything else is a 500 whose details go to the log alone.
    const e = err as { status?: unknown; expose?: boolean; message?: string };
    const raw = typeof e.status === 'number' ? e.status : 500;
    const status = raw >= 400 && raw <= 599 ? raw : 500;
    body = errorBody(status, undefined, status < 500 && e.expose ? e.message : undefined);
    if (status >= 500) deps.log.error({ err, request_id: ctx.state.requestId }, 'unhandled error');
  }
  if (body.error.status === 401 && challenge) ctx.set('WWW-Authenticate', challenge);
  ctx.status = body.error.status;
  ctx.body = body;
  ctx.state.errorCode = body.error.code;
}

/** Node destroys a request whose client closed mid-body with an 'aborted' ECONNRESET. */
function clientWentAway(ctx: Context): boolean {
  return (ctx.req.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET';
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
  if (err instanceof InvalidSignedUrl) return new DomainError('forbidden', err.message);
  if (isDatabaseUnavailable(err)) return new ServiceUnavailable('the database is unavailable');
  if (isDataException(err)) return new InvalidRequest('the request holds a value that cannot be stored or searched');
  return err;
}
