// How a file reaches the store (#21). Up to DIRECT_UPLOAD_MIN_BYTES it goes through the
// service in one POST; past that it goes straight to the store: POST …/media/uploads for
// a URL signed for one PUT of exactly that size and type, the PUT (with progress), then
// POST …/complete, which creates the media. The bytes of a large file then never hold a
// connection of the service, so no rolling restart can cut them off.

import { StoreUnreachable, api, putToStore, uploadFile } from './api.js';

/** @typedef {import('./api.js').Kind} Kind */
/** @typedef {import('./api.js').Schemas['Media']} Media */

/**
 * 8 MiB. A file this size takes ~22 s on a slow phone uplink (3 Mbit/s): within the 25 s
 * a draining instance gives requests in flight (SHUTDOWN_TIMEOUT_SECONDS), and one POST
 * is then quicker than three requests, a CORS preflight and hashing the file in the page.
 * Larger files go direct (AWS's own CLI switches to multipart at the same size).
 */
export const DIRECT_UPLOAD_MIN_BYTES = 8 * 1024 * 1024;

/**
 * @typedef {object} UploadSteps
 * @property {(fraction: number) => void} progress the bytes sent so far
 * @property {(step: 'hashing' | 'sending' | 'completing') => void} step
 */

/**
 * @typedef {object} Uploaded
 * @property {Media} media
 * @property {'direct' | 'service'} path how the bytes went
 * @property {boolean} fellBack a direct PUT the store would not take from this page, sent through the service instead
 */

/**
 * @param {File} file
 * @param {Kind} kind
 * @param {UploadSteps} steps
 * @returns {Promise<Uploaded>}
 */
export async function sendFile(file, kind, steps) {
  if (file.size <= DIRECT_UPLOAD_MIN_BYTES) {
    steps.step('sending');
    return { media: await uploadFile(file, kind, steps.progress), path: 'service', fellBack: false };
  }
  try {
    return { media: await sendDirect(file, kind, steps), path: 'direct', fellBack: false };
  } catch (err) {
    // No answer from the store: with S3, most likely a bucket without the CORS rule for
    // PUT (docs/console.md). The service takes the file itself; the upload URL it signed
    // expires unused and `mediagate gc` removes it.
    if (!(err instanceof StoreUnreachable)) throw err;
    steps.progress(0);
    steps.step('sending');
    return { media: await uploadFile(file, kind, steps.progress), path: 'service', fellBack: true };
  }
}

/** @param {File} file @param {Kind} kind @param {UploadSteps} steps @returns {Promise<Media>} */
async function sendDirect(file, kind, steps) {
  steps.step('hashing');
  const sha256 = await digest(file);
  const contentType = file.type || 'application/octet-stream';
  const started = await api('POST', '/media/uploads', {
    json: { kind, content_type: contentType, size_bytes: file.size, filename: file.name || undefined, sha256 },
  });
  steps.step('sending');
  await putToStore(started.url, started.headers, file, steps.progress);
  steps.step('completing');
  return api('POST', '/media/uploads/{UploadId}/complete', { path: { UploadId: started.upload_id } });
}

/**
 * The file's SHA-256, hex: the store (S3) then refuses other bytes, completion checks
 * them, and the media has its digest as other uploads do. WebCrypto exists only in a
 * secure context (https, or localhost); elsewhere the upload goes without one.
 * @param {File} file
 * @returns {Promise<string | undefined>}
 */
async function digest(file) {
  if (!globalThis.crypto?.subtle) return undefined;
  const hash = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
}
