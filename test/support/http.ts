import { request } from 'node:http';
import { expect } from 'vitest';
import { checkContract } from './contract.js';

/**
 * The contract's error answer: JSON `{"error": {status, code, message}}`, and on a 401
 * the Basic challenge (HTTP clients send credentials only after one; the console's own
 * calls get none, so this is not for them). A HEAD answer has no body: only its status
 * and challenge are looked at.
 */
export async function expectError(res: Response, status: number, code: string, method: 'GET' | 'HEAD' = 'GET'): Promise<void> {
  expect(res.status).toBe(status);
  if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Basic realm="mediagate"');
  if (method === 'HEAD') {
    expect(await res.text()).toBe('');
    return;
  }
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { status: number; code: string; message: string } };
  expect(body.error).toMatchObject({ status, code });
  expect(typeof body.error.message).toBe('string');
}

/**
 * A request with header lines fetch cannot send (an empty value, the same header
 * twice: fetch joins repeats into one), answered as a Response that was checked against
 * the contract like every fetch's.
 */
export function requestWithHeaders(url: string, headers: [string, string][], method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false });
    const byName = new Map<string, string[]>();
    for (const [name, value] of headers) byName.set(name, [...(byName.get(name) ?? []), value]);
    // An array value is sent as one header line per element.
    for (const [name, values] of byName) req.setHeader(name, values.length === 1 ? values[0]! : values);
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode!;
        const answerHeaders = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) answerHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const bodyless = method === 'HEAD' || status === 204 || status === 304;
        const response = new Response(bodyless ? null : Buffer.concat(chunks), { status, headers: answerHeaders });
        checkContract({ method, url, headers: new Headers(headers) }, response).then(() => resolve(response), reject);
      });
    });
    req.end();
  });
}
