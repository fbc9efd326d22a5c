// The kinds of media, each with a protection switch of its own: the contract's list,
// named here once (the API's schemas, the console and the account's switch rows are
// built from it; migrations 0001 and 0002 check the same three in the database).
export const MEDIA_KINDS = ['message', 'recording', 'fax'] as const;

export type MediaKind = (typeof MEDIA_KINDS)[number];

export function isMediaKind(value: unknown): value is MediaKind {
  return typeof value === 'string' && (MEDIA_KINDS as readonly string[]).includes(value);
}
