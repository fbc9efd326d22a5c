import type { Media } from '../../src/domain/media.js';

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
