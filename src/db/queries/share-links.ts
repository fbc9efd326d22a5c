import type { Queryable } from '../pool.js';
import type { MediaRow } from './media.js';

export interface ShareLinkRow {
  sid: string;
  account_sid: string;
  media_sid: string;
  expires_at: Date;
  max_uses: number | null;
  uses: number;
  last_used_at: Date | null;
  disposition: string;
  label: string | null;
  created_by: string;
  created_at: Date;
}

const COLUMNS = `l.sid, l.account_sid, l.media_sid, l.expires_at, l.max_uses, l.uses, l.last_used_at, l.disposition,
  l.label, l.created_by, l.created_at`;

const MEDIA_COLUMNS = `m.sid AS m_sid, m.account_sid AS m_account_sid, m.kind AS m_kind, m.content_type AS m_content_type,
  m.size_bytes AS m_size_bytes, m.sha256 AS m_sha256, m.filename AS m_filename, m.object_key AS m_object_key,
  m.requires_auth AS m_requires_auth, m.application_id AS m_application_id, m.created_at AS m_created_at`;

// A link is live while it has not expired, has uses left, and its media has not passed
// its account's retention (the media row itself is gone once deleted: the foreign key).
const LIVE = `l.expires_at > now() AND (l.max_uses IS NULL OR l.uses < l.max_uses)
  AND (a.retention_days IS NULL OR m.created_at > now() - make_interval(days => a.retention_days))`;

export interface NewShareLink {
  sid: string;
  accountSid: string;
  mediaSid: string;
  tokenHash: Buffer;
  /** it expires this long after its creation (both by the database's clock) */
  lifetimeSeconds: number;
  maxUses: number | null;
  disposition: string;
  label: string | null;
  createdBy: string;
}

export async function insertShareLink(db: Queryable, link: NewShareLink): Promise<ShareLinkRow> {
  const { rows } = await db.query<ShareLinkRow>({
    name: 'share-link-insert',
    text: `INSERT INTO share_links AS l (sid, account_sid, media_sid, token_hash, expires_at, max_uses, disposition, label, created_by)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    values: [link.sid, link.accountSid, link.mediaSid, link.tokenHash, link.lifetimeSeconds, link.maxUses, link.disposition, link.label, link.createdBy],
  });
  return rows[0]!;
}

export interface LiveShareLinkRow extends ShareLinkRow {
  media: MediaRow;
  retention_days: number | null;
}

/** The live link a token's digest names, with its media; undefined when there is none. */
export async function findLiveShareLink(db: Queryable, tokenHash: Buffer): Promise<LiveShareLinkRow | undefined> {
  const { rows } = await db.query<ShareLinkRow & Record<string, unknown> & { retention_days: number | null }>({
    name: 'share-link-find-live',
    text: `SELECT ${COLUMNS}, ${MEDIA_COLUMNS}, a.retention_days
             FROM share_links l JOIN media m ON m.sid = l.media_sid JOIN accounts a ON a.sid = l.account_sid
            WHERE l.token_hash = $1 AND ${LIVE}`,
    values: [tokenHash],
  });
  const row = rows[0];
  if (!row) return undefined;
  const media = {} as Record<string, unknown>;
  const link = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(row)) {
    if (k.startsWith('m_')) media[k.slice(2)] = v;
    else link[k] = v;
  }
  return { ...(link as unknown as ShareLinkRow), retention_days: row.retention_days, media: media as unknown as MediaRow };
}

/**
 * Counts one use of a link with a use limit, if it has one left: one statement, so
 * concurrent uses on any number of instances never pass the limit. false: none left
 * (or the link is gone).
 */
export async function takeShareLinkUse(db: Queryable, sid: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'share-link-take-use',
    text: `UPDATE share_links SET uses = uses + 1, last_used_at = now()
            WHERE sid = $1 AND expires_at > now() AND (max_uses IS NULL OR uses < max_uses)`,
    values: [sid],
  });
  return rowCount === 1;
}

/** Adds uses counted in memory (links without a limit), written in batches. */
export async function addShareLinkUses(db: Queryable, uses: { sid: string; count: number; lastUsedAt: Date }[]): Promise<void> {
  if (uses.length === 0) return;
  await db.query({
    name: 'share-link-add-uses',
    text: `UPDATE share_links l SET uses = l.uses + u.count, last_used_at = GREATEST(l.last_used_at, u.last_used_at)
             FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(sid, count, last_used_at)
            WHERE l.sid = u.sid`,
    values: [uses.map((u) => u.sid), uses.map((u) => u.count), uses.map((u) => u.lastUsedAt)],
  });
}

/** Links that still work: neither expired nor used up (revoked ones are deleted). */
export async function countLiveShareLinks(db: Queryable, accountSid: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>({
    name: 'share-link-count-live',
    text: `SELECT count(*)::int AS n
             FROM share_links l JOIN media m ON m.sid = l.media_sid JOIN accounts a ON a.sid = l.account_sid
            WHERE l.account_sid = $1 AND ${LIVE}`,
    values: [accountSid],
  });
  return rows[0]!.n;
}

/** Where a page ended (domain/paging.ts): the last row's created_at and sid. */
export interface ShareLinkCursor {
  createdAt: string;
  id: string;
}

export interface ListedShareLinkRow extends ShareLinkRow {
  cursor_created_at: string;
  media_application_id: string | null;
}

/**
 * An account's links (live or not: an owner sees that a one-time link was used), or one
 * media's live links, newest first, a page at a time.
 */
export async function listShareLinks(
  db: Queryable,
  filter: { accountSid: string; mediaSid: string | undefined; applicationId: string | undefined },
  after: ShareLinkCursor | undefined,
  limit: number,
): Promise<ListedShareLinkRow[]> {
  const { rows } = await db.query<ListedShareLinkRow>({
    name: 'share-link-list',
    text: `SELECT ${COLUMNS}, m.application_id AS media_application_id,
                  to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at
             FROM share_links l JOIN media m ON m.sid = l.media_sid JOIN accounts a ON a.sid = l.account_sid
            WHERE l.account_sid = $1 AND ($2::text IS NULL OR l.media_sid = $2)
              AND ($3::uuid IS NULL OR m.application_id IS NULL OR m.application_id = $3::uuid)
              AND ($4::timestamptz IS NULL OR (l.created_at, l.sid) < ($4::timestamptz, $5::text))
              AND ($2::text IS NULL OR ${LIVE})
            ORDER BY l.created_at DESC, l.sid DESC LIMIT $6`,
    values: [filter.accountSid, filter.mediaSid ?? null, filter.applicationId ?? null, after?.createdAt ?? null, after?.id ?? null, limit],
  });
  return rows;
}

/** Deletes a link of the account; returns it (with its media's application) or undefined. */
export async function deleteShareLink(db: Queryable, accountSid: string, sid: string): Promise<(ShareLinkRow & { media_application_id: string | null; media_requires_auth: boolean }) | undefined> {
  const { rows } = await db.query<ShareLinkRow & { media_application_id: string | null; media_requires_auth: boolean }>({
    name: 'share-link-delete',
    text: `DELETE FROM share_links l USING media m
            WHERE m.sid = l.media_sid AND l.account_sid = $1 AND l.sid = $2
           RETURNING ${COLUMNS}, m.application_id AS media_application_id, m.requires_auth AS media_requires_auth`,
    values: [accountSid, sid],
  });
  return rows[0];
}

/** Links created by a credential that is being deleted (a key, an application): they die with it. */
export async function deleteShareLinksCreatedBy(db: Queryable, accountSid: string, createdBy: string): Promise<number> {
  const { rowCount } = await db.query({
    name: 'share-link-delete-by-creator',
    text: 'DELETE FROM share_links WHERE account_sid = $1 AND created_by = $2',
    values: [accountSid, createdBy],
  });
  return rowCount ?? 0;
}
