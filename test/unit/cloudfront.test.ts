import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { cannedPolicy, loadCloudFrontPrivateKey, withCloudFrontUrls } from '../../src/storage/cloudfront.js';
import type { Store, UrlToSign } from '../../src/storage/store.js';
import { checkCannedPolicyUrl } from '../support/cloudfront-edge.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F';
const DISTRIBUTION = 'https://d111111abcdef8.cloudfront.net';
const OBJECT_KEY = 'AC0123456789abcdef0123456789abcdef/ME00112233445566778899aabbccddeeff';
const SIGNED_AT = new Date('2026-01-02T03:04:05.678Z');
// 2026-01-02T03:04:05Z (the signing second) + 4 hours
const EXPIRES = 1_767_337_445;
const trusted = { [KEY_PAIR_ID]: publicKey };
const beforeExpiry = new Date(EXPIRES * 1000 - 1000);

function fakeStore(): Store {
  return {
    description: 'S3 bucket media at AWS us-east-1',
    uploadOrigin: 'https://media.s3.us-east-1.amazonaws.com',
    put: vi.fn(async () => ({ sizeBytes: 3, sha256: 'x' })),
    delete: vi.fn(async () => undefined),
    read: vi.fn(async () => Readable.from(['abc'])),
    list: vi.fn(async function* () {
      yield { key: OBJECT_KEY, lastModified: SIGNED_AT };
    }),
    removeAbandonedUploads: vi.fn(async () => 2),
    signUrl: vi.fn(async () => 'https://s3.example/presigned'),
    signUpload: vi.fn(async () => ({ url: 'https://media.s3.us-east-1.amazonaws.com/k?X-Amz-Signature=s', headers: { 'Content-Length': '3' } })),
    stat: vi.fn(async () => ({ sizeBytes: 3, contentType: 'text/plain', sha256: undefined })),
    check: vi.fn(async () => undefined),
    close: vi.fn(async () => undefined),
  };
}

const cdn = withCloudFrontUrls(fakeStore(), { url: DISTRIBUTION, keyPairId: KEY_PAIR_ID, privateKey });

const signUrl = (overrides: Partial<UrlToSign> = {}) =>
  cdn.signUrl({
    key: OBJECT_KEY,
    method: 'GET',
    contentType: 'image/png',
    signedAt: SIGNED_AT,
    ttlSeconds: 14_400,
    ...overrides,
  });

/** RSA-SHA1 over the policy with node:crypto alone, in CloudFront's base64 alphabet. */
function expectedSignature(policy: string): string {
  return sign('RSA-SHA1', Buffer.from(policy), privateKey)
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/=/g, '_')
    .replace(/\//g, '~');
}

describe('CloudFront signed URLs', () => {
  it('name CLOUDFRONT_URL/{key} with Expires, Signature and Key-Pair-Id over the documented canned policy', async () => {
    const url = await signUrl();
    const policy =
      `{"Statement":[{"Resource":"${DISTRIBUTION}/${OBJECT_KEY}",` + `"Condition":{"DateLessThan":{"AWS:EpochTime":${EXPIRES}}}}]}`;
    expect(cannedPolicy(`${DISTRIBUTION}/${OBJECT_KEY}`, EXPIRES)).toBe(policy);
    expect(url).toBe(`${DISTRIBUTION}/${OBJECT_KEY}?Expires=${EXPIRES}&Signature=${expectedSignature(policy)}&Key-Pair-Id=${KEY_PAIR_ID}`);

    const signature = new URL(url).searchParams.get('Signature')!;
    const standard = signature.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/');
    expect(verify('RSA-SHA1', Buffer.from(policy), publicKey, Buffer.from(standard, 'base64'))).toBe(true);
    expect(checkCannedPolicyUrl(url, trusted, beforeExpiry)).toEqual({ valid: true, path: `/${OBJECT_KEY}`, query: '' });
  });

  it('expire ttlSeconds after the signing second, and not before', async () => {
    const url = await signUrl();
    expect(checkCannedPolicyUrl(url, trusted, new Date(EXPIRES * 1000 - 1)).valid).toBe(true);
    expect(checkCannedPolicyUrl(url, trusted, new Date(EXPIRES * 1000))).toEqual({ valid: false, reason: 'expired' });
    const week = new URL(await signUrl({ ttlSeconds: 604_800, signedAt: new Date('2026-01-02T03:04:05Z') }));
    expect(week.searchParams.get('Expires')).toBe(String(EXPIRES - 14_400 + 604_800));
  });

  it('use CloudFront’s URL-safe base64: - for +, _ for =, ~ for /', async () => {
    const signatures = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => new URL(await signUrl({ ttlSeconds: 100 + i })).searchParams.get('Signature')!),
    );
    for (const s of signatures) {
      expect(s).toMatch(/^[A-Za-z0-9~-]+__$/); // 256 bytes: two padding characters
      expect(s).toHaveLength(344);
    }
    // A standard base64 signature of 342 digits has a + and a / with near certainty; over
    // twenty of them, the absence of - or ~ would mean the mapping is missing.
    expect(signatures.some((s) => s.includes('-'))).toBe(true);
    expect(signatures.some((s) => s.includes('~'))).toBe(true);
  });

  it('are the URLs @aws-sdk/cloudfront-signer makes from the same resource, expiry and key', async () => {
    for (const contentDisposition of [undefined, `attachment; filename="r_sum_ _1_.png"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.png`]) {
      const ours = new URL(await signUrl({ contentDisposition }));
      const resource = ours.toString().replace(/[?&]Expires=.*$/, '');
      const theirs = new URL(
        getSignedUrl({
          url: resource,
          keyPairId: KEY_PAIR_ID,
          privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }),
          dateLessThan: new Date(EXPIRES * 1000),
        }),
      );
      expect(theirs.origin + theirs.pathname).toBe(ours.origin + ours.pathname);
      ours.searchParams.sort();
      theirs.searchParams.sort();
      expect(theirs.search).toBe(ours.search);
    }
  });

  it('carry the disposition inside the signed resource, before Expires', async () => {
    const disposition = `attachment; filename="a (1).txt"; filename*=UTF-8''a%20%281%29.txt`;
    const url = await signUrl({ contentDisposition: disposition });
    const encoded = 'attachment%3B%20filename%3D%22a%20%281%29.txt%22%3B%20filename%2A%3DUTF-8%27%27a%2520%25281%2529.txt';
    const resource = `${DISTRIBUTION}/${OBJECT_KEY}?response-content-disposition=${encoded}`;
    expect(url).toBe(
      `${resource}&Expires=${EXPIRES}&Signature=${expectedSignature(cannedPolicy(resource, EXPIRES))}&Key-Pair-Id=${KEY_PAIR_ID}`,
    );
    expect(new URL(url).searchParams.get('response-content-disposition')).toBe(disposition);
    const verdict = checkCannedPolicyUrl(url, trusted, beforeExpiry);
    expect(verdict).toEqual({ valid: true, path: `/${OBJECT_KEY}`, query: `response-content-disposition=${encoded}` });
  });

  it('fail verification when a character of the path, the disposition or Expires is changed', async () => {
    const url = await signUrl({ contentDisposition: 'attachment; filename="a.txt"' });
    expect(checkCannedPolicyUrl(url, trusted, beforeExpiry).valid).toBe(true);
    const tampered = [
      url.replace('/ME00112233', '/ME00112234'),
      url.replace('/AC0123', '/AC0124'),
      url.replace('filename%3D%22a.txt', 'filename%3D%22b.txt'),
      url.replace('attachment', 'inline'),
      url.replace(/response-content-disposition=[^&]*&/, ''),
      url.replace(`Expires=${EXPIRES}`, `Expires=${EXPIRES + 1}`),
      url.replace(`Expires=${EXPIRES}`, `Expires=${EXPIRES + 600_000}`),
      url.replace(/Signature=(.)/, (_, c: string) => `Signature=${c === 'A' ? 'B' : 'A'}`),
    ];
    for (const t of tampered) {
      expect(t).not.toBe(url);
      expect(checkCannedPolicyUrl(t, trusted, beforeExpiry)).toEqual({ valid: false, reason: 'signature does not match' });
    }
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(checkCannedPolicyUrl(url, { [KEY_PAIR_ID]: otherKey }, beforeExpiry).valid).toBe(false);
    expect(checkCannedPolicyUrl(url.replace(KEY_PAIR_ID, 'KOTHERKEY'), trusted, beforeExpiry).valid).toBe(false);
  });

  it('percent-encode each segment of the object key', async () => {
    const url = await signUrl({ key: "a b/c+d(1)'é" });
    expect(url.startsWith(`${DISTRIBUTION}/a%20b/c%2Bd%281%29%27%C3%A9?Expires=`)).toBe(true);
    expect(checkCannedPolicyUrl(url, trusted, beforeExpiry).valid).toBe(true);
  });

  it('are the same for HEAD as for GET: CloudFront does not sign the method', async () => {
    expect(await signUrl({ method: 'HEAD' })).toBe(await signUrl({ method: 'GET' }));
  });

  it('tolerate a trailing slash on the distribution URL', async () => {
    const slashed = withCloudFrontUrls(fakeStore(), { url: `${DISTRIBUTION}/`, keyPairId: KEY_PAIR_ID, privateKey });
    expect(await slashed.signUrl({ key: OBJECT_KEY, method: 'GET', contentType: 'x/y', signedAt: SIGNED_AT, ttlSeconds: 14_400 })).toBe(
      await signUrl(),
    );
  });
});

describe('withCloudFrontUrls', () => {
  it('leaves uploads, reads, deletes, listing and cleanup to the wrapped store, and names the distribution', async () => {
    const s3 = fakeStore();
    const store = withCloudFrontUrls(s3, { url: DISTRIBUTION, keyPairId: KEY_PAIR_ID, privateKey });
    expect(store.description).toBe(
      `S3 bucket media at AWS us-east-1, delivered through CloudFront distribution ${DISTRIBUTION} (public key ${KEY_PAIR_ID})`,
    );
    const body = Readable.from(['abc']);
    expect(await store.put(OBJECT_KEY, body, 'text/plain', 10, 3)).toEqual({ sizeBytes: 3, sha256: 'x' });
    expect(s3.put).toHaveBeenCalledWith(OBJECT_KEY, body, 'text/plain', 10, 3);
    await store.delete(OBJECT_KEY);
    expect(s3.delete).toHaveBeenCalledWith(OBJECT_KEY);
    const range = { start: 0, end: 1 };
    expect(await store.read(OBJECT_KEY, range)).toBeInstanceOf(Readable);
    expect(s3.read).toHaveBeenCalledWith(OBJECT_KEY, range);
    const listed = [];
    for await (const o of store.list()) listed.push(o);
    expect(listed).toEqual([{ key: OBJECT_KEY, lastModified: SIGNED_AT }]);
    const cutoff = new Date();
    expect(await store.removeAbandonedUploads(cutoff)).toBe(2);
    expect(s3.removeAbandonedUploads).toHaveBeenCalledWith(cutoff);
    await store.signUrl({ key: OBJECT_KEY, method: 'GET', contentType: 'x/y', signedAt: SIGNED_AT, ttlSeconds: 60 });
    expect(s3.signUrl).not.toHaveBeenCalled();
    // Direct uploads go to the bucket itself, not through the distribution.
    const upload = { key: OBJECT_KEY, contentType: 'text/plain', sizeBytes: 3, signedAt: SIGNED_AT, ttlSeconds: 60 };
    expect((await store.signUpload(upload)).url).toMatch(/^https:\/\/media\.s3\./);
    expect(s3.signUpload).toHaveBeenCalledWith(upload);
    expect(store.uploadOrigin).toBe('https://media.s3.us-east-1.amazonaws.com');
    expect(await store.stat(OBJECT_KEY)).toEqual({ sizeBytes: 3, contentType: 'text/plain', sha256: undefined });
    await store.close();
    expect(s3.close).toHaveBeenCalledOnce();
  });
});

describe('loadCloudFrontPrivateKey', () => {
  async function keyFile(contents: string): Promise<string> {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'mg-cf-key-')), 'key.pem');
    await writeFile(file, contents);
    return file;
  }

  async function problem(file: string): Promise<string> {
    const err = await loadCloudFrontPrivateKey(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const { message } = err as ConfigError;
    expect(message).not.toContain('\n');
    return message;
  }

  it('reads an RSA private key in PKCS#1 or PKCS#8 PEM', async () => {
    for (const type of ['pkcs1', 'pkcs8'] as const) {
      const key = await loadCloudFrontPrivateKey(await keyFile(privateKey.export({ type, format: 'pem' }) as string));
      expect(key.asymmetricKeyType).toBe('rsa');
      expect(key.export({ type: 'pkcs1', format: 'pem' })).toBe(privateKey.export({ type: 'pkcs1', format: 'pem' }));
    }
  });

  it('refuses, in one line naming the variable, a missing file', async () => {
    const missing = path.join(tmpdir(), 'mg-no-such-dir', 'key.pem');
    expect(await problem(missing)).toBe(`invalid configuration: CLOUDFRONT_PRIVATE_KEY_FILE cannot be read: ${missing} (ENOENT)`);
  });

  it('refuses a key that is not RSA, a public key, an encrypted key and garbage', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(await problem(await keyFile(ec))).toMatch(/^invalid configuration: CLOUDFRONT_PRIVATE_KEY_FILE is not an RSA private key: .* \(found ec;/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(await problem(await keyFile(ed))).toMatch(/is not an RSA private key: .*found ed25519/);
    const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(await problem(await keyFile(pub))).toMatch(/CLOUDFRONT_PRIVATE_KEY_FILE is not a PEM private key: /);
    const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(await problem(await keyFile(encrypted))).toMatch(/CLOUDFRONT_PRIVATE_KEY_FILE holds an encrypted key: .*without a passphrase/);
    const legacyEncrypted = privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(await problem(await keyFile(legacyEncrypted))).toMatch(/holds an encrypted key/);
    expect(await problem(await keyFile('not a key\n'))).toMatch(/is not a PEM private key/);
  });
});
