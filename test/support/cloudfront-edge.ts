import { verify, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

export interface EdgeOptions {
  /** the S3 server and bucket the distribution reads (as CloudFront does through OAC) */
  origin: { endpoint: string; bucket: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** the distribution's trusted key group: public key id -> public key */
  trustedKeys: Record<string, KeyObject>;
  /** the edge's notion of now, for Expires; default: the system clock */
  clock?: () => Date;
}

export interface CloudFrontEdge {
  /** what CLOUDFRONT_URL names */
  baseUrl: string;
  close(): Promise<void>;
}

const SIGNING_PARAMS = new Set(['Expires', 'Signature', 'Key-Pair-Id', 'Policy']);

/**
 * A stand-in for a CloudFront distribution that requires signed URLs (canned policies),
 * checked with node:crypto and the public key only, independent of how mediagate signs:
 * the canned policy is rebuilt from the URL as received minus Expires, Signature and
 * Key-Pair-Id ("Creating a signed URL using a canned policy", CloudFront Developer
 * Guide), the signature decoded from CloudFront's base64 (- _ ~ for + = /) and checked
 * as RSA-SHA1. Refusals are 403 with the reason as the body; a valid URL is served
 * from the S3 server, with response-content-disposition as Content-Disposition. No
 * caching: every request reads the origin.
 */
export async function startCloudFrontEdge(options: EdgeOptions): Promise<CloudFrontEdge> {
  const clock = options.clock ?? (() => new Date());
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: options.origin.endpoint,
    forcePathStyle: true,
    credentials: options.origin.credentials,
  });
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`origin error: ${err.message}`);
      else res.destroy(err);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'only GET and HEAD');
    const verdict = checkCannedPolicyUrl(`http://${req.headers.host}${req.url}`, options.trustedKeys, clock());
    if (!verdict.valid) return refuse(res, 403, verdict.reason);
    const { path, query } = verdict;

    let key: string;
    try {
      key = path.slice(1).split('/').map(decodeURIComponent).join('/');
    } catch {
      return refuse(res, 400, 'malformed path');
    }
    let object;
    try {
      object = await s3.send(new GetObjectCommand({ Bucket: options.origin.bucket, Key: key }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return refuse(res, 404, 'no such object');
      throw err;
    }
    const headers: Record<string, string> = {};
    if (object.ContentType) headers['Content-Type'] = object.ContentType;
    if (object.ContentLength !== undefined) headers['Content-Length'] = String(object.ContentLength);
    const disposition = new URLSearchParams(query).get('response-content-disposition');
    if (disposition !== null) headers['Content-Disposition'] = disposition;
    res.writeHead(200, headers);
    const body = object.Body as Readable;
    if (req.method === 'HEAD') {
      body.destroy();
      res.end();
      return;
    }
    await pipeline(body, res);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      s3.destroy();
    },
  };
}

/** valid: the path and the query without the signing parameters, both as received */
export type Verdict = { valid: true; path: string; query: string } | { valid: false; reason: string };

/**
 * What CloudFront decides for a canned-policy signed URL, as received (scheme, host,
 * path and query exactly as the client sent them), at `now`.
 */
export function checkCannedPolicyUrl(url: string, trustedKeys: Record<string, KeyObject>, now: Date): Verdict {
  const q = url.indexOf('?');
  const base = q === -1 ? url : url.slice(0, q);
  const signing = new Map<string, string>();
  const kept: string[] = [];
  for (const pair of q === -1 ? [] : url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (!SIGNING_PARAMS.has(name)) kept.push(pair);
    else if (signing.has(name)) return { valid: false, reason: `${name} given twice` };
    else signing.set(name, eq === -1 ? '' : pair.slice(eq + 1));
  }
  if (signing.has('Policy')) return { valid: false, reason: 'custom policies are not served by this edge' };
  const expires = signing.get('Expires');
  const signature = signing.get('Signature');
  const keyPairId = signing.get('Key-Pair-Id');
  if (expires === undefined || signature === undefined || keyPairId === undefined) {
    return { valid: false, reason: 'missing Expires, Signature or Key-Pair-Id' };
  }
  const publicKey = trustedKeys[keyPairId];
  if (!publicKey) return { valid: false, reason: `Key-Pair-Id ${keyPairId} is not in the trusted key group` };
  if (!/^\d{1,12}$/.test(expires)) return { valid: false, reason: 'Expires is not epoch seconds' };
  if (!/^[A-Za-z0-9~_-]+$/.test(signature)) return { valid: false, reason: 'Signature is not CloudFront base64' };

  const query = kept.join('&');
  const resource = query ? `${base}?${query}` : base;
  const policy = `{"Statement":[{"Resource":${JSON.stringify(resource)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
  const decoded = Buffer.from(signature.replace(/[-_~]/g, (c) => (c === '-' ? '+' : c === '_' ? '=' : '/')), 'base64');
  if (!verify('RSA-SHA1', Buffer.from(policy), publicKey, decoded)) return { valid: false, reason: 'signature does not match' };
  if (now.getTime() >= Number(expires) * 1000) return { valid: false, reason: 'expired' };
  const pathStart = base.indexOf('/', base.indexOf('//') + 2);
  return { valid: true, path: pathStart === -1 ? '/' : base.slice(pathStart), query };
}

function refuse(res: ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${status === 403 ? 'AccessDenied' : 'Error'}: ${reason}`);
}
