import { createHash, createHmac } from 'node:crypto';

// An independent SigV4 query-signature check, written from AWS's specification
// ("Authenticating Requests: Using Query Parameters"), to test the URLs the service
// presigns. s3rver does not verify signatures, so this is what would notice a URL whose
// signature does not cover what it serves.

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const escape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The signature of a presigned URL as AWS computes it. `headers`: the values of the
 * signed headers other than host (a direct upload signs Content-Type and Content-Length).
 */
export function expectedSignature(method: string, url: string, secretAccessKey: string, headers: Record<string, string> = {}): string {
  const u = new URL(url);
  const params = [...u.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature');
  const canonicalQuery = params
    .map(([k, v]) => [escape(k), escape(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const signedHeaders = u.searchParams.get('X-Amz-SignedHeaders')!;
  const values: Record<string, string> = { host: u.host, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) };
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => {
      if (values[name] === undefined) throw new Error(`no value given for the signed header ${name}`);
      return `${name}:${values[name]!.trim()}\n`;
    })
    .join('');
  const canonicalRequest = [method, u.pathname, canonicalQuery, canonicalHeaders, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
  const amzDate = u.searchParams.get('X-Amz-Date')!;
  const [, date, region, service] = u.searchParams.get('X-Amz-Credential')!.split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date!), region!), service!), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

export function signatureValid(method: string, url: string, secretAccessKey: string, headers: Record<string, string> = {}): boolean {
  return new URL(url).searchParams.get('X-Amz-Signature') === expectedSignature(method, url, secretAccessKey, headers);
}
