import { LRUCache } from 'lru-cache';

export interface SignedUrl {
  url: string;
  signedAt: Date;
}

/**
 * Reuses a signed URL for the same object, method and disposition for up to
 * `reuseSeconds`, so that a hot media costs a map lookup instead of a signature (SigV4
 * HMACs, or Ed25519 for the local store: ~35 µs each). A reused URL still expires
 * MEDIA_URL_TTL_SECONDS after it was signed, so at most `reuseSeconds` earlier than a
 * fresh one would. Only consulted after the media row was found: a deleted media never
 * gets a cached URL.
 */
export class SignedUrlCache {
  private readonly urls: LRUCache<string, SignedUrl>;
  private readonly reuseSeconds: number;

  /** Reuse for 60 s at most, and never more than a tenth of the URLs' lifetime. */
  constructor(ttlSeconds: number, max = 20_000) {
    this.reuseSeconds = Math.min(60, Math.floor(ttlSeconds / 10));
    this.urls = new LRUCache({ max });
  }

  /** a URL still fit for reuse at `now`, or undefined */
  peek(key: string, now: Date): SignedUrl | undefined {
    if (this.reuseSeconds === 0) return undefined;
    const hit = this.urls.get(key);
    const age = hit ? now.getTime() - hit.signedAt.getTime() : Infinity;
    return age < this.reuseSeconds * 1000 && age >= 0 ? hit : undefined;
  }

  async get(key: string, now: Date, sign: (signedAt: Date) => Promise<SignedUrl>): Promise<SignedUrl> {
    const hit = this.peek(key, now);
    if (hit) return hit;
    const signed = await sign(now);
    if (this.reuseSeconds === 0) return signed;
    this.urls.set(key, signed);
    return signed;
  }
}
