/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted form is an
 * ASCII fallback for old clients with quotes, backslashes and non-ASCII replaced, the
 * extended form carries the exact name, percent-encoded (RFC 8187).
 */
export function attachmentDisposition(filename: string): string {
  // eslint-disable-next-line no-control-regex
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const extended = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${extended}`;
}

/**
 * Every "JavaScript MIME type" of the WHATWG MIME Sniffing standard (§ 4.6): a browser
 * runs a script served under any of them.
 */
export const JAVASCRIPT_TYPES: readonly string[] = [
  'application/ecmascript',
  'application/javascript',
  'application/x-ecmascript',
  'application/x-javascript',
  'text/ecmascript',
  'text/javascript',
  'text/javascript1.0',
  'text/javascript1.1',
  'text/javascript1.2',
  'text/javascript1.3',
  'text/javascript1.4',
  'text/javascript1.5',
  'text/jscript',
  'text/livescript',
  'text/x-ecmascript',
  'text/x-javascript',
];

// Types a browser would run, or render as a document able to run script, if served
// inline: markup (HTML, XHTML, SVG, any XML: XSLT and XHTML namespaces run script),
// every script type, and the legacy active types. On a media URL's origin such a file
// could act with the visitor's credentials, so it is always served as an attachment.
const ACTIVE_TYPES = new Set([
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'text/xsl',
  ...JAVASCRIPT_TYPES,
  'application/x-shockwave-flash',
  'multipart/x-mixed-replace',
  'text/cache-manifest',
  'application/wasm',
]);

// Media types repeat (a few per deployment): each is judged once, on the redirect's hot
// path a map lookup. Bounded, since the types are the uploaders' to choose.
const judged = new Map<string, boolean>();

/** Whether a browser would run or render this type as an active document. */
export function isActiveContent(contentType: string): boolean {
  let active = judged.get(contentType);
  if (active === undefined) {
    const essence = contentType.split(';')[0]!.trim().toLowerCase();
    active = ACTIVE_TYPES.has(essence) || essence.endsWith('+xml') || essence.endsWith('/xml');
    if (judged.size >= 1000) judged.clear();
    judged.set(contentType, active);
  }
  return active;
}

/**
 * The Content-Disposition a media is served with: an attachment when asked for, and
 * always for active types; undefined means inline.
 */
export function contentDispositionFor(media: { contentType: string; filename: string | null; sid: string }, wantsAttachment: boolean): string | undefined {
  return wantsAttachment || isActiveContent(media.contentType) ? attachmentDisposition(media.filename ?? media.sid) : undefined;
}
