// Connections are kept between requests (#24): an answer given at once, from memory (the
// hot redirect, /healthz), used to close its connection because the request was not
// yet marked complete; only a request whose body is left unread should close it.
import { request, Agent } from 'node:http';
import { afterAll, expect, it } from 'vitest';
import { accountWithMedia, serviceForFile } from '../support/service.js';

const svc = serviceForFile({ storeKind: 'local' });

function get(agent: Agent, url: string, headers: Record<string, string> = {}): Promise<{ status: number; connection: string | undefined; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

const agents: Agent[] = [];
afterAll(() => agents.forEach((a) => a.destroy()));

it('keeps the connection for answers from memory: every hot redirect and /healthz on one socket', async () => {
  const { owner, protectedMedia } = await accountWithMedia(svc);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await get(agent, protectedMedia.url, { Authorization: owner.basic }));
  for (let i = 0; i < 3; i++) answers.push(await get(agent, `${svc.baseUrl}/healthz`));
  expect(answers.map((a) => [a.status, a.connection])).toEqual([...Array(6).fill([302, 'keep-alive']), ...Array(3).fill([200, 'keep-alive'])]);
  // The first request opened the socket; all others reused it.
  expect(answers.map((a) => a.reused)).toEqual([false, ...Array(8).fill(true)]);
  // The later redirects were answered from memory (the path this was about).
  const lines = svc.logLines.map((l) => JSON.parse(l) as { cached?: boolean; status?: number }).filter((l) => l.status === 302);
  expect(lines.filter((l) => l.cached === true).length).toBeGreaterThanOrEqual(4);
});
