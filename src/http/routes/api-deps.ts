import type { Config } from '../../config.js';
import type { InvalidationDeps } from '../../domain/invalidation.js';
import type { MediaDeps } from '../../domain/media.js';
import type { ShareLinkDeps } from '../../domain/share-links.js';
import type { UploadDeps } from '../../domain/uploads.js';
import type { Metrics } from '../../metrics.js';
import type { UploadPace } from '../upload-pace.js';

/** What the /v1/accounts routes (the media URL included) are given. */
export interface ApiDeps extends MediaDeps, InvalidationDeps {
  publicBaseUrl: string;
  mediaDelivery: Config['mediaDelivery'];
  metrics: Metrics;
  uploadPace: UploadPace;
  shareLinks: ShareLinkDeps;
  uploads: UploadDeps;
  /** what one account may hold (config.limits) */
  caps: { apiKeys: number; applications: number };
}
