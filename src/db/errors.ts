// How PostgreSQL and the network say what went wrong, classified here, next to the
// driver; http/errors.ts decides what each class means to a client.

const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** The database cannot be reached or is shutting down: not a bug, a 503. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && UNREACHABLE_ERRNOS.has(e.code)) return true;
  // SQLSTATE class 08 (connection exception), 57P01-03 (admin shutdown, crash, cannot connect now), 57014 (statement timeout)
  if (e.code && (/^08/.test(e.code) || /^57P0[123]$/.test(e.code) || e.code === '57014')) return true;
  const m = e.message ?? '';
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout/i.test(m);
}

/** SQLSTATE class 22, data exception: a value PostgreSQL cannot take (a NUL byte, an out-of-range number). */
export function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
