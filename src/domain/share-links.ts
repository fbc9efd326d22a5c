import type { Db } from '../db/pool.js';
import { insertEvent } from '../db/queries/events.js';
import { findMedia as findMediaRow } from '../db/queries/media.js';
import {
  addShareLinkUses,
  deleteShareLink as deleteShareLinkRow,
  findLiveShareLink,
  insertShareLink,
  countLiveShareLinks,
  listShareLinks as listShareLinkRows,
  takeShareLinkUse,
  type ShareLinkRow,
} from '../db/queries/share-links.js';
import type { Scheduler } from '../scheduler.js';
import type { SignedMethod, Store } from '../storage/store.js';
import { enforce, refusalOfMedia } from './access.js';
import type { AuthThrottle } from './auth-throttle.js';
import { contentDispositionFor } from './content-disposition.js';
import type { Principal } from './principal.js';
import { InvalidRequest, MediaNotFound, NotFound, TooManyRequests } from './errors.js';
import { isSid, newSid, newUrlToken } from './ids.js';
import { commitWithInvalidation, type LocalInvalidation } from './invalidation.js';
import { mediaFromRow, mediaObject, type Media, type SignedMediaUrl } from './media.js';
import { isDisplaySafe } from './printable.js';
import { hashSecret } from './secrets.js';
import type { ServedObject } from './served-object.js';
import type { SignedUrlCache } from './signed-url-cache.js';
import { retentionEnd, TrustedCache } from './trusted-cache.js';
import { withTransaction } from '../db/pool.js';
import { decodePageToken, pageOf } from './paging.js';
import { assertRoomForOneMore } from './account-caps.js';

/**
 * A share link: a capability URL for one media item, for people and players that hold
 * no credentials (an email's link, an <audio> element). Anyone holding its URL reads
 * the media until the link expires, runs out of uses, or dies: deleted, with its media
 * (deleted or past retention), or with the key or application that created it.
 */
export interface ShareLink {
  sid: string;
  accountSid: string;
  mediaSid: string;
  expiresAt: Date;
  /** null: unlimited (a player's link should set an expiry only) */
  maxUses: number | null;
  /** every GET answered with a redirect or bytes; counted in batches for unlimited links */
  uses: number;
  lastUsedAt: Date | null;
  disposition: Disposition;
  label: string | null;
  /** the credential that created it: an account sid, a key sid or an application id */
  createdBy: string;
  createdAt: Date;
}

export type Disposition = 'inline' | 'attachment';

function shareLinkFromRow(row: ShareLinkRow): ShareLink {
  return {
    sid: row.sid,
    accountSid: row.account_sid,
    mediaSid: row.media_sid,
    expiresAt: row.expires_at,
    maxUses: row.max_uses,
    uses: row.uses,
    lastUsedAt: row.last_used_at,
    disposition: row.disposition as Disposition, // the column's CHECK holds the same two
    label: row.label,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/** A live link and its media, as the token resolves them. */
export interface LiveShareLink {
  link: ShareLink;
  media: Media;
}

export class ShareLinkCache extends TrustedCache<LiveShareLink> {}

export interface ShareLinkDeps {
  db: Db;
  store: Store;
  clock: () => Date;
  invalidate: LocalInvalidation;
  /** the longest a link may live (SHARE_LINK_MAX_SECONDS) */
  maxSeconds: number;
  /** live links an account may hold (SHARE_LINKS_PER_ACCOUNT) */
  maxLivePerAccount: number;
  /** what a store URL handed out for a link lives (SHARE_URL_TTL_SECONDS) */
  urlTtlSeconds: number;
  /** live links by their token's digest (none: every use reads the database) */
  cache?: ShareLinkCache | undefined;
  /** store URLs of shared media, reused briefly (their own cache: their lifetime is another) */
  urlCache?: SignedUrlCache | undefined;
  /** failed look-ups count against the client address, as failed authentications do */
  throttle: AuthThrottle;
  uses: ShareLinkUses;
}

export interface NewShareLinkInput {
  expiresInSeconds: number | undefined;
  maxUses: number | undefined;
  disposition: Disposition | undefined;
  label: string | undefined;
}

const DEFAULT_LIFETIME_SECONDS = 7 * 86_400;

/** Creates a link to a media the principal may read; the token is in the answer only (its digest is stored). */
export async function createShareLink(
  deps: Pick<ShareLinkDeps, 'db' | 'maxSeconds' | 'maxLivePerAccount'>,
  principal: Principal,
  accountSid: string,
  mediaSid: string,
  input: NewShareLinkInput,
): Promise<{ link: ShareLink; token: string }> {
  const media = await readableMedia(deps.db, principal, accountSid, mediaSid);
  const lifetime = input.expiresInSeconds ?? Math.min(DEFAULT_LIFETIME_SECONDS, deps.maxSeconds);
  if (!Number.isInteger(lifetime) || lifetime < 60 || lifetime > deps.maxSeconds) {
    throw new InvalidRequest(`expires_in must be a whole number of seconds from 60 to ${deps.maxSeconds}`);
  }
  const label = input.label?.trim() || null;
  if (label !== null && (label.length > 100 || !isDisplaySafe(label))) {
    throw new InvalidRequest('label must be at most 100 printable characters, without control or bidirectional formatting characters');
  }
  const token = newUrlToken();
  const sid = newSid('SL');
  const row = await withTransaction(deps.db, async (tx) => {
    await assertRoomForOneMore(tx, accountSid, { what: 'live share links', setting: 'SHARE_LINKS_PER_ACCOUNT', max: deps.maxLivePerAccount, count: countLiveShareLinks });
    const inserted = await insertShareLink(tx, {
      sid,
      accountSid,
      mediaSid: media.sid,
      tokenHash: hashSecret(token),
      lifetimeSeconds: lifetime,
      maxUses: input.maxUses ?? null,
      disposition: input.disposition ?? 'inline',
      label,
      createdBy: principal.credentialSid,
    });
    await insertEvent(tx, accountSid, 'share_link.created', {
      share_link_sid: sid,
      media_sid: media.sid,
      expires_at: inserted.expires_at.toISOString(),
      max_uses: inserted.max_uses,
      created_by: principal.credentialSid,
    });
    return inserted;
  });
  return { link: shareLinkFromRow(row), token };
}

async function readableMedia(db: Db, principal: Principal, accountSid: string, mediaSid: string): Promise<Media> {
  if (!isSid(mediaSid, 'ME')) throw new MediaNotFound();
  const row = await findMediaRow(db, accountSid, mediaSid);
  if (!row) throw new MediaNotFound();
  const media = mediaFromRow(row);
  enforce(refusalOfMedia(principal, media));
  return media;
}

export interface ListShareLinksInput {
  accountSid: string;
  /** one media's live links (the principal must be able to read it), or all the account's */
  mediaSid: string | undefined;
  principal: Principal;
  pageSize: number;
  pageToken: string | undefined;
}

/** One media's live links, or all the account's (used up and expired too), newest first; an application sees those of media it may read. */
export async function listShareLinks(deps: Pick<ShareLinkDeps, 'db'>, input: ListShareLinksInput): Promise<{ links: ShareLink[]; nextPageToken: string | null }> {
  if (input.mediaSid !== undefined) await readableMedia(deps.db, input.principal, input.accountSid, input.mediaSid);
  const after = input.pageToken === undefined ? undefined : decodePageToken(input.pageToken, (id) => isSid(id, 'SL'));
  const rows = await listShareLinkRows(
    deps.db,
    {
      accountSid: input.accountSid,
      mediaSid: input.mediaSid,
      applicationId: input.principal.type === 'application' ? input.principal.credentialSid : undefined,
    },
    after,
    input.pageSize + 1,
  );
  const { page, nextPageToken } = pageOf(rows, input.pageSize, (row) => row.sid);
  return { links: page.map(shareLinkFromRow), nextPageToken };
}

/** Revokes a link: it fails from the commit on, on every instance. */
export async function deleteShareLink(deps: Pick<ShareLinkDeps, 'db' | 'invalidate'>, principal: Principal, accountSid: string, sid: string): Promise<void> {
  if (!isSid(sid, 'SL')) throw new NotFound('no such share link');
  await commitWithInvalidation(deps, { kind: 'share_links', accountSid }, async (tx) => {
    const row = await deleteShareLinkRow(tx, accountSid, sid);
    if (!row) throw new NotFound('no such share link');
    // An application revokes links of media it may read, as it creates them.
    enforce(refusalOfMedia(principal, { requiresAuth: row.media_requires_auth, applicationId: row.media_application_id }));
    await insertEvent(tx, accountSid, 'share_link.deleted', { share_link_sid: sid, media_sid: row.media_sid });
  });
}

/** The digest a token is looked up by (the token itself is never kept). */
export const tokenDigest = (token: string) => hashSecret(token);

const cacheKey = (digest: Buffer) => digest.toString('base64');

// Tokens are 43 base64url characters; anything else names no link (and is not looked up).
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The live link in memory for this token, if this instance has it (the fast path). */
export function cachedShareLink(deps: Pick<ShareLinkDeps, 'cache' | 'clock'>, token: string): LiveShareLink | undefined {
  if (!deps.cache || !TOKEN.test(token)) return undefined;
  return deps.cache.get(cacheKey(tokenDigest(token)), deps.clock().getTime());
}

/**
 * The live link a token names, from memory or the database. A token that names no live
 * link is a failed look-up: it counts against the client address, which past the limit
 * is refused before looking (429), as an address guessing secrets is.
 */
export async function resolveShareLink(deps: ShareLinkDeps, token: string, clientAddress: string): Promise<LiveShareLink> {
  const cached = cachedShareLink(deps, token);
  if (cached) return cached;
  const now = deps.clock().getTime();
  const wait = deps.throttle.addressRetryAfterSeconds(clientAddress, now);
  if (wait > 0) throw new TooManyRequests(wait);
  const generation = deps.cache?.currentGeneration() ?? 0;
  const row = TOKEN.test(token) ? await findLiveShareLink(deps.db, tokenDigest(token)) : undefined;
  if (!row) {
    deps.throttle.recordFailure(clientAddress, undefined, now);
    throw new NotFound('no such share link');
  }
  const live = { link: shareLinkFromRow(row), media: mediaFromRow(row.media) };
  const mediaEnd = retentionEnd(live.media.createdAt, row.retention_days);
  const expiresAt = Math.min(live.link.expiresAt.getTime(), mediaEnd ?? Infinity);
  deps.cache?.set(cacheKey(tokenDigest(token)), { value: live, accountSid: live.link.accountSid, expiresAt }, generation);
  return live;
}

/**
 * Counts a use where memory will do: every GET answered with a redirect or bytes is a
 * use (a HEAD is none); an unlimited link's are counted here and written in batches.
 * false: this use must be taken in the database first (takeLimitedUse).
 */
export function countUseInMemory(deps: Pick<ShareLinkDeps, 'uses' | 'clock'>, link: ShareLink, method: string): boolean {
  if (method !== 'GET') return true;
  if (link.maxUses !== null) return false;
  deps.uses.count(link.sid, deps.clock());
  return true;
}

/** Takes one use of a limited link, atomically across every instance; false: none left. */
export function takeLimitedUse(deps: Pick<ShareLinkDeps, 'db'>, link: ShareLink): Promise<boolean> {
  return takeShareLinkUse(deps.db, link.sid);
}

/** A store URL for the shared media, living SHARE_URL_TTL_SECONDS: a revoked link's URL dies that soon. */
export async function signShareUrl(deps: ShareLinkDeps, live: LiveShareLink, method: SignedMethod): Promise<SignedMediaUrl> {
  const contentDisposition = contentDispositionFor(live.media, live.link.disposition === 'attachment');
  const sign = async (signedAt: Date) => ({
    signedAt,
    url: await deps.store.signUrl({ key: live.media.objectKey, method, contentType: live.media.contentType, contentDisposition, signedAt, ttlSeconds: deps.urlTtlSeconds }),
  });
  const owner = { accountSid: live.media.accountSid, mediaSid: live.media.sid };
  const signed = deps.urlCache ? await deps.urlCache.get(shareUrlKey(live, method), deps.clock(), sign, owner) : await sign(deps.clock());
  return { url: signed.url, method, expiresAt: new Date((Math.floor(signed.signedAt.getTime() / 1000) + deps.urlTtlSeconds) * 1000) };
}

/** A store URL for the shared media still fit for reuse, without a promise (the fast path). */
export function cachedShareUrl(deps: Pick<ShareLinkDeps, 'urlCache' | 'clock'>, live: LiveShareLink, method: SignedMethod): string | undefined {
  return deps.urlCache?.peek(shareUrlKey(live, method), deps.clock())?.url;
}

const shareUrlKey = (live: LiveShareLink, method: SignedMethod) => `${method} ${live.media.objectKey} ${live.link.disposition}`;

/** The shared media's bytes, delivered by the service itself (MEDIA_DELIVERY=proxy). */
export function sharedObject(deps: Pick<ShareLinkDeps, 'store'>, live: LiveShareLink): ServedObject {
  return mediaObject(deps, live.media, live.link.disposition === 'attachment');
}

/**
 * Uses of unlimited links, counted in memory and added to the database every few
 * seconds: a player's link may be fetched thousands of times a minute, and must not
 * cost a write each time. A failed write keeps its counts for the next one.
 */
export class ShareLinkUses {
  private counts = new Map<string, { count: number; lastUsedAt: Date }>();
  private stopTimer: () => void = () => {};

  constructor(private readonly db: Db) {}

  start(scheduler: Scheduler, everyMillis: number): void {
    this.stopTimer = scheduler.every(everyMillis, () => void this.flush().catch(() => undefined));
  }

  count(sid: string, at: Date): void {
    const c = this.counts.get(sid);
    if (c) {
      c.count++;
      c.lastUsedAt = at;
    } else {
      this.counts.set(sid, { count: 1, lastUsedAt: at });
    }
  }

  async flush(): Promise<void> {
    if (this.counts.size === 0) return;
    const batch = this.counts;
    this.counts = new Map();
    try {
      await addShareLinkUses(this.db, [...batch].map(([sid, c]) => ({ sid, ...c })));
    } catch (err) {
      for (const [sid, c] of batch) {
        const now = this.counts.get(sid);
        this.counts.set(sid, now ? { count: now.count + c.count, lastUsedAt: now.lastUsedAt } : c);
      }
      throw err;
    }
  }

  /** stops the timer and writes what is left */
  async stop(): Promise<void> {
    this.stopTimer();
    await this.flush().catch(() => undefined);
  }
}
