import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../config.js';
import type { Store, UrlToSign } from './store.js';

export interface CloudFrontOptions {
  /** the distribution's origin, e.g. https://d111111abcdef8.cloudfront.net, no trailing slash */
  url: string;
  /** the id CloudFront gave the public key in the distribution's trusted key group */
  keyPairId: string;
  /** RSA: see loadCloudFrontPrivateKey */
  privateKey: KeyObject;
}

/**
 * The S3 store with its media URLs delivered by a CloudFront distribution: signUrl names
 * CLOUDFRONT_URL/{key} signed with a canned policy (the distribution requires signed
 * URLs and reads the private bucket through origin access control); uploads, deletes,
 * listing and gc still go to the wrapped store. Setup, TTLs and key rotation: docs/cdn.md.
 *
 * Signed with node:crypto rather than @aws-sdk/cloudfront-signer, for a measured cost
 * (2-core machine, Node 20, RSA-2048, medians of 5 × 4,000 signatures): the library takes
 * the key as PEM text and parses it on every call, 1,550 to 1,700 µs per URL, where the
 * same signature from a KeyObject parsed once costs ~720 µs, nearly all of it the RSA
 * private-key operation: ~0.8 ms of event loop saved on every redirect that misses the
 * signed-URL cache. And that operation runs on libuv's thread pool (crypto.sign with a
 * callback), not on the event loop: a burst of misses then no longer stalls every other
 * request behind it (the p99 of 10,000 cycled media: 64–69 ms before, 33–57 ms after,
 * npm run bench).
 * test/unit/cloudfront.test.ts checks that our URLs are the library's,
 * and verifies them independently.
 */
export function withCloudFrontUrls(store: Store, options: CloudFrontOptions): Store {
  const { keyPairId, privateKey } = options;
  const base = options.url.replace(/\/+$/, '');
  return {
    description: `${store.description}, delivered through CloudFront distribution ${base} (public key ${keyPairId})`,
    uploadOrigin: store.uploadOrigin,
    put: (key, body, contentType, maxBytes, declaredBytes) => store.put(key, body, contentType, maxBytes, declaredBytes),
    delete: (key) => store.delete(key),
    read: (key, range) => store.read(key, range),
    list: () => store.list(),
    removeAbandonedUploads: (olderThan) => store.removeAbandonedUploads(olderThan),
    check: () => store.check(),
    // Uploads go to the bucket itself, not through the distribution.
    signUpload: (request) => store.signUpload(request),
    stat: (key) => store.stat(key),
    close: () => store.close(),

    // CloudFront signatures do not cover the method: a URL signed for HEAD also serves
    // GET (S3's do not). The response-content-disposition parameter is part of the
    // signed resource, so it cannot be changed or removed; the distribution's cache
    // policy forwards it to S3 (with OAC the origin request is signed, and S3 honours
    // response-* overrides on signed requests only).
    async signUrl(request: UrlToSign): Promise<string> {
      const query = request.contentDisposition ? `?response-content-disposition=${escapeUri(request.contentDisposition)}` : '';
      const resource = `${base}/${request.key.split('/').map(escapeUri).join('/')}${query}`;
      const expires = Math.floor(request.signedAt.getTime() / 1000) + request.ttlSeconds;
      const signature = await signCannedPolicy(cannedPolicy(resource, expires), privateKey);
      return `${resource}${query ? '&' : '?'}Expires=${expires}&Signature=${signature}&Key-Pair-Id=${encodeURIComponent(keyPairId)}`;
    },
  };
}

/**
 * The canned policy exactly as AWS documents it ("Creating a signed URL using a canned
 * policy", CloudFront Developer Guide): no whitespace, this key order. CloudFront
 * rebuilds the same text from the request URL without Expires, Signature and
 * Key-Pair-Id, so the resource is the URL as the client will send it.
 */
export function cannedPolicy(resource: string, expiresEpochSeconds: number): string {
  return `{"Statement":[{"Resource":${JSON.stringify(resource)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expiresEpochSeconds}}}}]}`;
}

/** RSA-SHA1 over the policy, in CloudFront's URL-safe base64: + → -, = → _, / → ~. */
function signCannedPolicy(policy: string, privateKey: KeyObject): Promise<string> {
  return new Promise((resolve, reject) =>
    sign('sha1', Buffer.from(policy), privateKey, (err, signature) =>
      err ? reject(err) : resolve(signature.toString('base64').replace(/[+=/]/g, (c) => (c === '+' ? '-' : c === '=' ? '_' : '~'))),
    ),
  );
}

// RFC 3986 unreserved characters stay; everything else is percent-encoded (as SigV4
// does), so that no client, proxy or Koa's redirect re-encodes the URL it was signed as.
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Reads CLOUDFRONT_PRIVATE_KEY_FILE once, at startup. A file that cannot be read or holds
 * anything but an unencrypted RSA private key is a configuration error: `mediagate serve`
 * stops with one line and exit status 2, as for a bad variable.
 */
export async function loadCloudFrontPrivateKey(file: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    throw keyFileProblem(`cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // Told apart by the PEM text: OpenSSL 3 reports a missing passphrase as an
  // "interrupted or cancelled" operation, which would read as a corrupt file.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem.toString('latin1'))) {
    throw keyFileProblem(`holds an encrypted key: ${file} (CloudFront signing needs it without a passphrase)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw keyFileProblem(`is not a PEM private key: ${file}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw keyFileProblem(`is not an RSA private key: ${file} (found ${key.asymmetricKeyType ?? 'an unknown type'}; CloudFront needs RSA)`);
  }
  return key;
}

function keyFileProblem(detail: string): ConfigError {
  return new ConfigError([`CLOUDFRONT_PRIVATE_KEY_FILE ${detail}`]);
}
