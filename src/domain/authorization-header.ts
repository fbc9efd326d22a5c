import { InvalidCredentials } from './errors.js';
import { hasControlCharacters } from './printable.js';

export type ParsedAuthorization =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// Longer than any credential we issue (sid 34 + ':' + secret 32, or a JWT) by far.
const MAX_CREDENTIALS_LENGTH = 4096;

/**
 * Parses an Authorization header value. Anything malformed is InvalidCredentials: the
 * contract never ignores a bad header, not even on public media.
 */
export function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (value.length === 0 || value.length > MAX_CREDENTIALS_LENGTH) {
    throw new InvalidCredentials('malformed Authorization header');
  }
  if (scheme === 'basic') return parseBasic(value);
  if (scheme === 'bearer') {
    if (!JWT.test(value)) throw new InvalidCredentials('malformed bearer token');
    return { scheme: 'bearer', token: value };
  }
  throw new InvalidCredentials('unsupported authorization scheme; use Basic or Bearer');
}

function parseBasic(value: string): ParsedAuthorization {
  if (!BASE64.test(value)) throw new InvalidCredentials('malformed Basic credentials (not base64)');
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    throw new InvalidCredentials('malformed Basic credentials (not UTF-8)');
  }
  if (hasControlCharacters(decoded)) throw new InvalidCredentials('malformed Basic credentials (control characters)');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new InvalidCredentials('malformed Basic credentials (expected username:password)');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (password.length === 0) throw new InvalidCredentials('malformed Basic credentials (empty password)');
  return { scheme: 'basic', username, password };
}
