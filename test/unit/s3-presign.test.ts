import { describe, expect, it } from 'vitest';
import { bucketOrigin, createS3Store } from '../../src/storage/s3.js';
import { expectedSignature, signatureValid } from '../support/sigv4.js';

// AWS's published example of a presigned GET ("Authenticating Requests: Using Query
// Parameters (AWS Signature Version 4)", Amazon S3 API Reference).
const AWS_EXAMPLE = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  url:
    'https://examplebucket.s3.amazonaws.com/test.txt' +
    '?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
};

const exampleStore = () =>
  createS3Store({
    bucket: 'examplebucket',
    region: 'us-east-1',
    endpoint: 'https://s3.amazonaws.com',
    forcePathStyle: false,
    credentials: { accessKeyId: AWS_EXAMPLE.accessKeyId, secretAccessKey: AWS_EXAMPLE.secretAccessKey },
  });

const sign = (overrides: Partial<Parameters<ReturnType<typeof exampleStore>['signUrl']>[0]> = {}) =>
  exampleStore().signUrl({
    key: 'test.txt',
    method: 'GET',
    contentType: 'text/plain',
    signedAt: new Date('2013-05-24T00:00:00Z'),
    ttlSeconds: 86_400,
    ...overrides,
  });

describe('S3 presigned URLs', () => {
  it("match AWS's published SigV4 example byte for byte", async () => {
    const url = await sign();
    expect(new URL(url).searchParams.get('X-Amz-Signature')).toBe(
      'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
    // Same URL, parameters aside from their order.
    const sorted = (u: string) => {
      const x = new URL(u);
      x.searchParams.sort();
      return x.toString();
    };
    expect(sorted(url)).toBe(sorted(AWS_EXAMPLE.url));
  });

  it('the independent verifier agrees with the published example', () => {
    expect(expectedSignature('GET', AWS_EXAMPLE.url, AWS_EXAMPLE.secretAccessKey)).toBe(
      'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  it('cover the path, the expiry and the disposition', async () => {
    const url = await sign({ contentDisposition: 'attachment; filename="a.txt"' });
    expect(signatureValid('GET', url, AWS_EXAMPLE.secretAccessKey)).toBe(true);

    const otherPath = url.replace('/test.txt?', '/other.txt?');
    expect(signatureValid('GET', otherPath, AWS_EXAMPLE.secretAccessKey)).toBe(false);

    const longer = url.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604800');
    expect(signatureValid('GET', longer, AWS_EXAMPLE.secretAccessKey)).toBe(false);

    const u = new URL(url);
    u.searchParams.set('response-content-disposition', 'inline');
    expect(signatureValid('GET', u.toString(), AWS_EXAMPLE.secretAccessKey)).toBe(false);
    u.searchParams.delete('response-content-disposition');
    expect(signatureValid('GET', u.toString(), AWS_EXAMPLE.secretAccessKey)).toBe(false);
  });

  it('sign the method: a HEAD URL is not valid for GET', async () => {
    const url = await sign({ method: 'HEAD' });
    expect(signatureValid('HEAD', url, AWS_EXAMPLE.secretAccessKey)).toBe(true);
    expect(signatureValid('GET', url, AWS_EXAMPLE.secretAccessKey)).toBe(false);
  });

  it('expire after the configured lifetime, counted from the signing time', async () => {
    const url = new URL(await sign({ ttlSeconds: 14_400, signedAt: new Date('2026-01-02T03:04:05Z') }));
    expect(url.searchParams.get('X-Amz-Expires')).toBe('14400');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z');
  });
});

describe('bucketOrigin', () => {
  it('uses virtual-hosted style on AWS and path style when asked or for dotted buckets', () => {
    expect(bucketOrigin({ bucket: 'b', region: 'eu-west-1', endpoint: undefined, forcePathStyle: false })).toEqual({
      protocol: 'https:',
      hostname: 'b.s3.eu-west-1.amazonaws.com',
      port: undefined,
      basePath: '',
    });
    expect(bucketOrigin({ bucket: 'b', region: 'x', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true })).toEqual({
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      basePath: '/b',
    });
    expect(bucketOrigin({ bucket: 'a.b', region: 'us-east-1', endpoint: undefined, forcePathStyle: false }).basePath).toBe('/a.b');
  });
});
