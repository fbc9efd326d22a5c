// A media item as the domain speaks of it (rows stay in db/): its own module, since the
// access rule and the cache speak of it as much as media.ts does.
import type { MediaRow } from '../db/queries/media.js';
import type { MediaKind } from './media-kinds.js';

/** A media item, as the domain speaks of it (rows stay in db/). */
export interface Media {
  sid: string;
  accountSid: string;
  kind: MediaKind;
  contentType: string;
  sizeBytes: number;
  /** hex; null for a direct upload completed without one (the service never saw its bytes) */
  sha256: string | null;
  filename: string | null;
  objectKey: string;
  /** its kind's protection when it was created, or protect-existing since */
  requiresAuth: boolean;
  /** set: only this application's JWTs (besides the account's token and keys) reach it */
  applicationId: string | null;
  createdAt: Date;
}

export function mediaFromRow(row: MediaRow): Media {
  return {
    sid: row.sid,
    accountSid: row.account_sid,
    kind: row.kind as MediaKind, // the column's CHECK holds the same list
    contentType: row.content_type,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    filename: row.filename,
    objectKey: row.object_key,
    requiresAuth: row.requires_auth,
    applicationId: row.application_id,
    createdAt: row.created_at,
  };
}
