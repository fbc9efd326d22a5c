import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, redactDatabaseUrl } from '../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('parseConfig', () => {
  it('applies the contract defaults to an empty environment', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      s3: undefined,
      publicBaseUrl: 'http://127.0.0.1:8080',
      mediaUrlTtlSeconds: 14_400,
      mediaMaxBytes: 104_857_600,
      trustProxy: false,
      logLevel: 'info',
      workers: 1,
      shutdownTimeoutSeconds: 25,
    });
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names each bad variable', () => {
    expect(problems({ PORT: 'abc' })).toEqual([expect.stringMatching(/^PORT must be a whole number/)]);
    expect(problems({ MEDIA_URL_TTL_SECONDS: '0' })).toEqual([expect.stringMatching(/^MEDIA_URL_TTL_SECONDS must be at least 1/)]);
    expect(problems({ MEDIA_URL_TTL_SECONDS: '604801' })).toEqual([
      expect.stringMatching(/^MEDIA_URL_TTL_SECONDS must be at most 604800/),
    ]);
    expect(problems({ PORT: '70000', LOG_LEVEL: 'loud', TRUST_PROXY: 'yes' })).toHaveLength(3);
  });

  it('takes 0 and the empty string as values, not as unset', () => {
    expect(parseConfig({ SHUTDOWN_TIMEOUT_SECONDS: '0' }).shutdownTimeoutSeconds).toBe(0);
    expect(problems({ HOST: '' })).toEqual([expect.stringMatching(/^HOST/)]);
    expect(problems({ MEDIA_MAX_BYTES: '' })).toEqual([expect.stringMatching(/^MEDIA_MAX_BYTES/)]);
  });

  it('builds the S3 settings when a bucket is named', () => {
    const c = parseConfig({ S3_BUCKET: 'media', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_REGION: 'eu-west-1' });
    expect(c.s3).toEqual({ bucket: 'media', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: true });
    expect(parseConfig({ S3_BUCKET: 'media' }).s3?.forcePathStyle).toBe(false);
    expect(parseConfig({ S3_BUCKET: 'media', S3_FORCE_PATH_STYLE: '1' }).s3?.forcePathStyle).toBe(true);
  });

  it('derives PUBLIC_BASE_URL from HOST and PORT, without a trailing slash', () => {
    expect(parseConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicBaseUrl).toBe('http://0.0.0.0:9000');
    expect(parseConfig({ PUBLIC_BASE_URL: 'https://media.example.com/' }).publicBaseUrl).toBe('https://media.example.com');
  });

  it('never echoes a database URL, which may hold a password', () => {
    const p = problems({ DATABASE_URL: 'mysql://u:secretpw@h/db' });
    expect(p).toHaveLength(1);
    expect(p[0]).not.toContain('secretpw');
    expect(redactDatabaseUrl('postgres://u:secretpw@h:5432/db')).toBe('postgres://u:***@h:5432/db');
  });
});

describe('parseConfig: CloudFront delivery (issue #14)', () => {
  const s3 = { S3_BUCKET: 'media' };
  const cloudFront = {
    CLOUDFRONT_URL: 'https://d111111abcdef8.cloudfront.net',
    CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
    CLOUDFRONT_PRIVATE_KEY_FILE: '/etc/mediagate/cloudfront.pem',
  };

  it('is off unless configured', () => {
    expect(parseConfig(s3).cloudFront).toBeUndefined();
  });

  it('takes the three variables together, with S3', () => {
    const c = parseConfig({ ...s3, ...cloudFront, CLOUDFRONT_URL: 'https://d111111abcdef8.cloudfront.net/' });
    expect(c.cloudFront).toEqual({
      url: 'https://d111111abcdef8.cloudfront.net',
      keyPairId: 'K2JCJMDEHXQW5F',
      privateKeyFile: '/etc/mediagate/cloudfront.pem',
    });
    expect(Object.isFrozen(c.cloudFront)).toBe(true);
    expect(parseConfig({ ...s3, ...cloudFront, CLOUDFRONT_PRIVATE_KEY_FILE: 'keys/cf.pem' }).cloudFront?.privateKeyFile).toBe(
      `${process.cwd()}/keys/cf.pem`,
    );
  });

  it('names the missing variables when only some are set', () => {
    expect(problems({ ...s3, CLOUDFRONT_URL: cloudFront.CLOUDFRONT_URL })).toEqual([
      'CLOUDFRONT_KEY_PAIR_ID must be set with CLOUDFRONT_URL',
      'CLOUDFRONT_PRIVATE_KEY_FILE must be set with CLOUDFRONT_URL',
    ]);
    const { CLOUDFRONT_KEY_PAIR_ID: _, ...withoutId } = cloudFront;
    expect(problems({ ...s3, ...withoutId })).toEqual([
      'CLOUDFRONT_KEY_PAIR_ID must be set with CLOUDFRONT_URL and CLOUDFRONT_PRIVATE_KEY_FILE',
    ]);
  });

  it('needs S3_BUCKET', () => {
    expect(problems(cloudFront)).toEqual([
      'S3_BUCKET must be set for CloudFront delivery (CLOUDFRONT_URL, CLOUDFRONT_KEY_PAIR_ID, CLOUDFRONT_PRIVATE_KEY_FILE given)',
    ]);
  });

  it('reports the CloudFront problems with the other bad variables, at once', () => {
    expect(problems({ PORT: 'abc', CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F' })).toEqual([
      expect.stringMatching(/^PORT must be a whole number/),
      'CLOUDFRONT_URL must be set with CLOUDFRONT_KEY_PAIR_ID',
      'CLOUDFRONT_PRIVATE_KEY_FILE must be set with CLOUDFRONT_KEY_PAIR_ID',
      expect.stringMatching(/^S3_BUCKET must be set for CloudFront delivery/),
    ]);
  });

  it('wants an http(s) URL without query or fragment, a key pair id and a file name', () => {
    const bad = (env: Record<string, string>) => problems({ ...s3, ...cloudFront, ...env });
    expect(bad({ CLOUDFRONT_URL: 'ftp://cdn.example.com' })).toEqual([expect.stringMatching(/^CLOUDFRONT_URL must start with http/)]);
    expect(bad({ CLOUDFRONT_URL: 'd111111abcdef8.cloudfront.net' })[0]).toMatch(/^CLOUDFRONT_URL must be a URL/);
    expect(bad({ CLOUDFRONT_URL: 'https://cdn.example.com/?a=1' })).toEqual([
      expect.stringMatching(/^CLOUDFRONT_URL must have no query or fragment/),
    ]);
    expect(bad({ CLOUDFRONT_KEY_PAIR_ID: 'k2 jc&x=1' })).toEqual([expect.stringMatching(/^CLOUDFRONT_KEY_PAIR_ID must be a CloudFront public key id/)]);
    expect(bad({ CLOUDFRONT_PRIVATE_KEY_FILE: '' })).toEqual([expect.stringMatching(/^CLOUDFRONT_PRIVATE_KEY_FILE must not be empty/)]);
  });
});
