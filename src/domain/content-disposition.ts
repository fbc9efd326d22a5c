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
