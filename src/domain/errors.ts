// Domain errors carry a stable code; src/http/errors.ts alone turns codes into
// HTTP statuses. Their messages are written for clients and are safe to show.

export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'service_unavailable';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends DomainError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}

/** Missing, malformed, unknown or wrong credentials. */
export class InvalidCredentials extends DomainError {
  constructor(message = 'valid credentials are required') {
    super('unauthorized', message);
  }
}

export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class NotFound extends DomainError {
  constructor(message = 'not found') {
    super('not_found', message);
  }
}

export class MediaNotFound extends NotFound {
  constructor() {
    super('no such media');
  }
}

/** The request does not fit the current state (promoting a secondary token that is not there). */
export class Conflict extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class PayloadTooLarge extends DomainError {
  constructor(maxBytes: number) {
    super('payload_too_large', `the body exceeds the limit of ${maxBytes} bytes`);
  }
}

export class TooManyRequests extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', 'too many failed authentication attempts; retry later');
  }
}

/** A dependency (database, object store) is unreachable; the request may be retried. */
export class ServiceUnavailable extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super('service_unavailable', message);
  }
}
