import type { MediaRow } from '../../src/db/queries/media.js';

/** A media row of account AC1 as the database returns it, for tests of the caches. */
export function mediaRow(sid: string, extra: Partial<MediaRow> = {}): MediaRow {
  return {
    sid,
    account_sid: 'AC1',
    kind: 'message',
    content_type: 'image/png',
    size_bytes: 1,
    sha256: '0',
    filename: null,
    object_key: `AC1/${sid}`,
    requires_auth: false,
    application_id: null,
    created_at: new Date(),
    ...extra,
  };
}
