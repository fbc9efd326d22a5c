import type { Media } from './media-model.js';
import { retentionEnd, TrustedCache } from './trusted-cache.js';

/** Media kept briefly in memory for the redirect's hot path (see TrustedCache). */
export class MediaCache extends TrustedCache<Media> {
  getMedia(accountSid: string, mediaSid: string, now: number): Media | undefined {
    return this.get(`${accountSid}/${mediaSid}`, now);
  }

  setMedia(media: Media, retentionDays: number | null, readAtGeneration: number): void {
    this.set(`${media.accountSid}/${media.sid}`, { value: media, accountSid: media.accountSid, expiresAt: retentionEnd(media.createdAt, retentionDays) }, readAtGeneration);
  }

  invalidateMedia(accountSid: string, mediaSid: string): void {
    this.invalidate(`${accountSid}/${mediaSid}`);
  }
}
