// What the stores refuse or fail at, in their own words; http/errors.ts maps them.

export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The body went past the limit; nothing of it is left stored. */
export class ObjectTooLarge extends StorageError {
  constructor(readonly maxBytes: number) {
    super(`the body exceeds the limit of ${maxBytes} bytes`);
  }
}

/**
 * The store cannot be reached, refused our credentials, or failed on its side; the
 * request may be retried. `reason` is the store's or SDK's own words (for the log and
 * /readyz, never a secret); the message is what a client may read.
 */
export class StoreUnavailable extends StorageError {
  constructor(readonly reason: string, message = 'the object store is unavailable') {
    super(message);
  }
}

/** A local-store URL whose signature or expiry does not hold. */
export class InvalidSignedUrl extends StorageError {}
