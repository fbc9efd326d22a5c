import type { Db } from '../db/pool.js';
import { findRetentionDays, updateRetentionDays } from '../db/queries/accounts.js';
import { insertEvent } from '../db/queries/events.js';
import { protectExistingMedia } from '../db/queries/media.js';
import { findProtection, updateProtection } from '../db/queries/protection.js';
import { NotFound } from './errors.js';
import { commitWithInvalidation, type InvalidationDeps } from './invalidation.js';
import { MEDIA_KINDS, type MediaKind } from './media-kinds.js';

export interface KindProtection {
  enabled: boolean;
  /** when `enabled` last really changed; null: never */
  changedAt: Date | null;
}

export type ProtectionState = Record<MediaKind, KindProtection>;

export async function getProtection(db: Db, accountSid: string): Promise<ProtectionState> {
  const rows = await findProtection(db, accountSid);
  if (rows.length === 0) throw new NotFound('no such account');
  const state = {} as ProtectionState;
  for (const kind of MEDIA_KINDS) {
    const row = rows.find((r) => r.kind === kind);
    state[kind] = { enabled: row?.enabled ?? false, changedAt: row?.changed_at ?? null };
  }
  return state;
}

/**
 * Changes the switches named in `changes`, in one transaction. Once it commits, every
 * upload that inserts afterwards reads the new value (see insertMedia's FOR SHARE).
 */
export async function setProtection(
  deps: InvalidationDeps,
  accountSid: string,
  changes: Partial<Record<MediaKind, boolean>>,
): Promise<ProtectionState> {
  await commitWithInvalidation(deps, { kind: 'media', accountSid }, async (tx) => {
    for (const kind of MEDIA_KINDS) {
      const enabled = changes[kind];
      if (enabled === undefined) continue;
      if (await updateProtection(tx, accountSid, kind, enabled)) {
        await insertEvent(tx, accountSid, 'media_protection.changed', { kind, enabled });
      }
    }
  });
  return getProtection(deps.db, accountSid);
}

/** Makes every existing media of a kind require credentials; returns how many changed. */
export async function protectExisting(deps: InvalidationDeps, accountSid: string, kind: MediaKind): Promise<number> {
  return commitWithInvalidation(deps, { kind: 'media', accountSid }, async (tx) => {
    const changed = await protectExistingMedia(tx, accountSid, kind);
    await insertEvent(tx, accountSid, 'media_protection.protected_existing', { kind, protected: changed });
    return changed;
  });
}

export async function getRetention(db: Db, accountSid: string): Promise<number | null> {
  const days = await findRetentionDays(db, accountSid);
  if (days === undefined) throw new NotFound('no such account');
  return days;
}

/** Media kept until deleted (null) or for a number of days. */
export async function setRetention(deps: InvalidationDeps, accountSid: string, days: number | null): Promise<void> {
  await commitWithInvalidation(deps, { kind: 'media', accountSid }, async (tx) => {
    await updateRetentionDays(tx, accountSid, days);
    await insertEvent(tx, accountSid, 'retention.changed', { days });
  });
}
