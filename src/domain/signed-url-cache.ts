import { LRUCache } from 'lru-cache';

export interface SignedUrl {
  url: string;
  signedAt: Date;
}

/**
 * Reuses a signed URL for the same object, method and disposition for up to
 * the reuse window, so that a hot media costs a map lookup instead of a signature (SigV4
 * HMACs, or Ed25519 for the local store: ~35 µs each). A reused URL still expires
 * MEDIA_URL_TTL_SECONDS after it was signed, so at most the window earlier than a
 * fresh one would. Only consulted after the media row was found: a deleted media never
 * gets a cached URL.
 */
export class SignedUrlCache {
  private readonly urls: LRUCache<string, ReusableUrl>;
  private readonly reuseMillis: number;

  /** Reuse for reuseSeconds at most, and never more than a tenth of the URLs' lifetime. */
  constructor(options: { ttlSeconds: number; reuseSeconds: number; max: number }) {
    this.reuseMillis = Math.min(options.reuseSeconds, Math.floor(options.ttlSeconds / 10)) * 1000;
    this.urls = new LRUCache({ max: options.max });
  }

  /** a URL still fit for reuse at `now`, or undefined */
  peek(key: string, now: Date): SignedUrl | undefined {
    const hit = this.urls.get(key);
    if (!hit) return undefined;
    const age = now.getTime() - hit.signedAt.getTime();
    return age >= 0 && age < hit.reuseMillis ? hit : undefined;
  }

  async get(key: string, now: Date, sign: (signedAt: Date) => Promise<SignedUrl>): Promise<SignedUrl> {
    const hit = this.peek(key, now);
    if (hit) return hit;
    const signed = await sign(now);
    if (this.reuseMillis === 0) return signed;
    // Each URL is reused for 75 to 100 % of the window: URLs signed together (a burst
    // over many media) would otherwise all be signed again together, a queue of
    // signatures (~0.7 ms each for CloudFront's RSA) that showed as the p99 of 10,000
    // cycled media in npm run bench.
    this.urls.set(key, { ...signed, reuseMillis: Math.round(this.reuseMillis * (1 - REUSE_JITTER * Math.random())) });
    return signed;
  }
}

const REUSE_JITTER = 0.25;

interface ReusableUrl extends SignedUrl {
  reuseMillis: number;
}
