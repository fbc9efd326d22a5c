import { createHash } from 'node:crypto';
import type { Media } from '../../src/domain/media.js';

/** The hex SHA-256 of some bytes, as the API reports a media's digest. */
export const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** A media of account AC1 as the domain holds it, for tests of the caches and the access decision. */
export function testMedia(sid: string, extra: Partial<Media> = {}): Media {
  return {
    sid,
    accountSid: 'AC1',
    kind: 'message',
    contentType: 'image/png',
    sizeBytes: 1,
    sha256: '0',
    filename: null,
    objectKey: `AC1/${sid}`,
    requiresAuth: false,
    applicationId: null,
    createdAt: new Date(),
    ...extra,
  };
}
