// Refusals that belong to HTTP itself (how a request was sent, not what it asks for);
// domain code never sees them. http/errors.ts maps them with the domain's errors.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnsupportedMediaType extends HttpError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

/** The client took too long to send its request (a dripped body). */
export class RequestTimeout extends HttpError {
  constructor(message = 'the request body was not received in time') {
    super(408, 'request_timeout', message);
  }
}
