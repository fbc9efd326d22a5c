// The console's only way to the service: same-origin requests that carry the session
// cookie and, on every request, the session's CSRF token (the server accepts the cookie
// only with it). The token lives in this module's memory, never in page storage.

/** An answer other than 2xx, with the words the service gave. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {number | undefined} retryAfterSeconds
   */
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Thrown to callers once a 401 has ended the session: the page is already back at sign-in. */
export class SessionEnded extends Error {
  constructor() {
    super('The session has ended.');
    this.name = 'SessionEnded';
  }
}

// ---- the API's types, from the OpenAPI document (../api-types.d.ts, `npm run openapi`) ----

/** @typedef {import('../api-types.js').paths} Paths */
/** @typedef {import('../api-types.js').components['schemas']} Schemas */
/** @typedef {Schemas['ConsoleSession']} Session */
/** @typedef {Schemas['Media']['kind']} Kind */

/**
 * A path of the signed-in account's API, as the document names it after
 * /v1/accounts/{AccountSid}: '/media', '/media/{MediaSid}'.
 * @typedef {{[K in keyof Paths]: K extends `/v1/accounts/{AccountSid}${infer Rest}` ? Rest : never}[keyof Paths]} AccountPath
 */

/**
 * The methods the document has for that path, as fetch sends them ('GET', 'PATCH').
 * @template {AccountPath} P
 * @typedef {{[M in keyof Paths[`/v1/accounts/{AccountSid}${P}`] & ('get' | 'post' | 'patch' | 'delete')]-?:
 *   [NonNullable<Paths[`/v1/accounts/{AccountSid}${P}`][M]>] extends [never] ? never : Uppercase<M>}[keyof Paths[`/v1/accounts/{AccountSid}${P}`] & ('get' | 'post' | 'patch' | 'delete')]} MethodOf
 */

/**
 * The document's operation for a path and method.
 * @template {AccountPath} P
 * @template {string} M
 * @typedef {NonNullable<Paths[`/v1/accounts/{AccountSid}${P}`][Lowercase<M> & keyof Paths[`/v1/accounts/{AccountSid}${P}`]]>} Operation
 */

/**
 * What an operation answers on success: its JSON, or null for 204.
 * @template O
 * @typedef {O extends {responses: infer R}
 *   ? {[S in keyof R & (200 | 201)]: R[S] extends {content: {'application/json': infer B}} ? B : never}[keyof R & (200 | 201)] | (204 extends keyof R ? null : never)
 *   : never} Answer
 */

/**
 * What a call to an operation sends: its JSON body, query and path parameters (other
 * than the account, which the session gives), each only where the document has it.
 * @template O
 * @typedef {(O extends {requestBody: {content: {'application/json': infer B}}} ? {json: B} : {json?: never})
 *   & (O extends {parameters: {query?: infer Q}} ? {query?: NonNullable<Q>} : {query?: never})
 *   & (O extends {parameters: {path: infer A}} ? ({} extends Omit<A, 'AccountSid'> ? {path?: never} : {path: Omit<A, 'AccountSid'>}) : {path?: never})} Options
 */

/**
 * The options argument: left out only where nothing in it is required.
 * @template O
 * @typedef {{} extends Options<O> ? [options?: Options<O>] : [options: Options<O>]} OptionsArgument
 */

/** @type {Session | null} */
let session = null;
/** @type {(message: string) => void} */
let sessionEndedHandler = () => {};

export function currentSession() {
  return session;
}

/** @param {(message: string) => void} handler called once when an API call answers 401 */
export function onSessionEnded(handler) {
  sessionEndedHandler = handler;
}

/** @param {string} suffix @returns {string} the JSON API path of the signed-in account, e.g. accountPath('/keys') */
function accountPath(suffix) {
  if (!session) throw new SessionEnded();
  return `/v1/accounts/${encodeURIComponent(session.account_sid)}${suffix}`;
}

/**
 * '/media/{MediaSid}' with the media's sid in place, encoded.
 * @param {string} template
 * @param {Record<string, string>} params
 */
function fillPath(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, /** @type {string} */ name) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${template} needs ${name}`);
    return encodeURIComponent(value);
  });
}

const NETWORK_MESSAGE = 'Cannot reach mediagate. Check your connection and try again.';

/**
 * Turns a non-2xx response into an ApiError with the service's own message.
 * @param {Response | {status: number, statusText?: string, headers: {get(name: string): string | null}}} res
 * @param {string} text the body
 */
export function errorFromResponse(res, text) {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
  let code = 'error';
  let message = '';
  try {
    // Unknown until looked at: a proxy in front may answer JSON of its own.
    /** @type {unknown} */
    const body = JSON.parse(text);
    const error = body && typeof body === 'object' && 'error' in body ? body.error : undefined;
    if (error && typeof error === 'object') {
      code = String(('code' in error ? error.code : undefined) ?? code);
      message = String(('message' in error ? error.message : undefined) ?? '');
    }
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status below.
  }
  if (res.status === 429) {
    const wait = retryAfter === undefined ? 'a little while' : describeWait(retryAfter);
    message = `Too many attempts. Try again in ${wait}.`;
  }
  if (message === '') message = fallbackMessage(res.status);
  return new ApiError(res.status, code, message, retryAfter);
}

/** @param {number} status */
function fallbackMessage(status) {
  if (status >= 500) return `mediagate had a problem (HTTP ${status}). Try again in a moment.`;
  if (status === 404) return 'Not found: it may have been deleted already.';
  if (status === 403) return 'This action is not allowed.';
  return `The request failed (HTTP ${status}).`;
}

/** @param {string | null} value */
function parseRetryAfter(value) {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** @param {number} seconds */
function describeWait(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

// ---- session endpoints (cookie set and cleared by the server) ----

/** @returns {Promise<Session | null>} the current session, or null when signed out */
export async function loadSession() {
  let res;
  try {
    res = await fetch('/console/session', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'network', NETWORK_MESSAGE, undefined);
  }
  // Signed out: 401 (or 204, which spares the browser console its "failed to load" line).
  if (res.status === 401 || res.status === 204) {
    session = null;
    return null;
  }
  const text = await res.text();
  if (!res.ok) throw errorFromResponse(res, text);
  /** @type {Session | null} */
  const body = JSON.parse(text);
  session = body && typeof body.csrf_token === 'string' ? body : null;
  return session;
}

/**
 * @param {string} accountSid
 * @param {string} authToken
 * @returns {Promise<Session>}
 */
export async function signIn(accountSid, authToken) {
  let res;
  try {
    res = await fetch('/console/session', {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ account_sid: accountSid, auth_token: authToken }),
    });
  } catch {
    throw new ApiError(0, 'network', NETWORK_MESSAGE, undefined);
  }
  const text = await res.text();
  if (!res.ok) throw errorFromResponse(res, text);
  /** @type {Session} */
  const created = JSON.parse(text);
  session = created;
  return created;
}

export async function signOut() {
  const token = session?.csrf_token;
  let res;
  try {
    res = await fetch('/console/session', {
      method: 'DELETE',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: token ? { 'X-CSRF-Token': token } : {},
    });
  } catch {
    throw new ApiError(0, 'network', NETWORK_MESSAGE, undefined);
  }
  // 401: the session had already ended, which is what signing out wants.
  if (!res.ok && res.status !== 401) throw errorFromResponse(res, await res.text());
  session = null;
}

function endSession() {
  if (session === null) return;
  session = null;
  sessionEndedHandler('Your session has ended. Sign in again to continue.');
}

// ---- the JSON API ----

/**
 * Calls an operation of the signed-in account's API, typed by the OpenAPI document:
 * api('DELETE', '/media/{MediaSid}', { path: { MediaSid } }).
 * @template {AccountPath} P
 * @template {MethodOf<P>} M
 * @param {M} method
 * @param {P} path the document's path after /v1/accounts/{AccountSid}
 * @param {OptionsArgument<Operation<P, M>>} options
 * @returns {Promise<Answer<Operation<P, M>>>} the parsed JSON body, or null for 204
 */
export async function api(method, path, ...options) {
  if (!session) throw new SessionEnded();
  const mine = session;
  // Inside, any operation's options: the checks are at the call.
  /** @type {{json?: unknown, query?: Record<string, string | number | undefined>, path?: Record<string, string>} | undefined} */
  const loose = options[0];
  const given = loose ?? {};
  const url = withQuery(accountPath(fillPath(path, given.path ?? {})), given.query);
  /** @type {Record<string, string>} */
  const headers = { 'X-CSRF-Token': mine.csrf_token, Accept: 'application/json' };
  let body;
  if (given.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(given.json);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', NETWORK_MESSAGE, undefined);
  }
  const text = await res.text();
  if (res.status === 401) {
    // Only the session this request was made with; a newer sign-in stays.
    if (session === mine) endSession();
    throw new SessionEnded();
  }
  if (!res.ok) throw errorFromResponse(res, text);
  // null only where the document answers 204, which Answer then includes.
  if (res.status === 204 || text === '') return /** @type {Answer<Operation<P, M>>} */ (null);
  return JSON.parse(text);
}

/**
 * @param {string} path
 * @param {Record<string, string | number | undefined> | undefined} query
 */
export function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s === '' ? path : `${path}?${s}`;
}

/**
 * @typedef {object} XhrAnswer
 * @property {number} status
 * @property {string} text
 * @property {(name: string) => string | null} header
 */

/**
 * Sends a body with XMLHttpRequest rather than fetch: only it reports upload progress.
 * Rejects only when no answer came (status 0: offline, or a store's CORS refusal).
 * @param {{method: string, url: string, headers: Record<string, string>, body: Blob, onProgress: (fraction: number) => void}} request
 * @returns {Promise<XhrAnswer>}
 */
function sendWithProgress({ method, url, headers, body, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText, header: (n) => xhr.getResponseHeader(n) }));
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', NETWORK_MESSAGE, undefined)));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.', undefined)));
    xhr.send(body);
  });
}

/**
 * Uploads a file through the service as raw bytes with its own Content-Type.
 * @param {File} file
 * @param {Kind} kind
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<Answer<Operation<'/media', 'POST'>>>} the created media's JSON
 */
export async function uploadFile(file, kind, onProgress) {
  if (!session) throw new SessionEnded();
  const mine = session;
  const url = withQuery(accountPath('/media'), { kind, filename: file.name || undefined });
  const headers = { 'X-CSRF-Token': mine.csrf_token, Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' };
  const res = await sendWithProgress({ method: 'POST', url, headers, body: file, onProgress });
  if (res.status === 401) {
    if (session === mine) endSession();
    throw new SessionEnded();
  }
  if (res.status < 200 || res.status >= 300) throw errorFromResponse({ status: res.status, headers: { get: res.header } }, res.text);
  onProgress(1);
  return JSON.parse(res.text);
}

/** The store's PUT could not be sent or answered at all: offline, or (S3) no CORS rule for this page. */
export class StoreUnreachable extends ApiError {
  constructor() {
    super(0, 'store_unreachable', 'The browser could not send the file to the store.', undefined);
    this.name = 'StoreUnreachable';
  }
}

// Set by the browser alone: a script may not (and need not) send them.
const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection']);

/**
 * The PUT of a direct upload, straight to the store's signed URL, with exactly the
 * headers the service signed. No session token and no cookie go with it: the URL's
 * signature is the permission.
 * @param {string} url
 * @param {Record<string, string>} signedHeaders
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 */
export async function putToStore(url, signedHeaders, file, onProgress) {
  /** @type {Record<string, string>} */
  const headers = {};
  for (const [name, value] of Object.entries(signedHeaders)) if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) headers[name] = value;
  let res;
  try {
    res = await sendWithProgress({ method: 'PUT', url, headers, body: file, onProgress });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'network') throw new StoreUnreachable();
    throw err;
  }
  if (res.status < 200 || res.status >= 300) {
    // S3 answers XML (<Code>SignatureDoesNotMatch</Code>), the local store JSON.
    const code = /<Code>([^<]{1,100})<\/Code>/.exec(res.text)?.[1];
    const error = errorFromResponse({ status: res.status, headers: { get: res.header } }, res.text);
    throw new ApiError(res.status, 'store', `The store refused the file${code ? ` (${code})` : ''}: ${error.message}`, undefined);
  }
  onProgress(1);
}
