// A hostile client holding connections open: bodies dripped byte by byte, bodies the
// service never reads, more connections than allowed. Raw sockets, the real server.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualScheduler } from '../support/scheduler.js';
import { newAccount, startService, type TestAccount, type TestService } from '../support/service.js';
import { until } from '../support/until.js';

let svc: TestService;
let account: TestAccount;
// The upload pace's minute passes when the test says so.
const scheduler = new ManualScheduler();
beforeAll(async () => {
  svc = await startService({ env: { MAX_CONNECTIONS: '20', UPLOAD_MIN_BYTES_PER_MINUTE: '1024' }, scheduler });
  account = await newAccount(svc.db);
});
afterAll(() => svc.close());

const port = () => Number(new URL(svc.baseUrl).port);

/** Opens a socket, sends `head`, and resolves with everything read once the server closes it. */
function exchange(head: string, drip?: { every: number; byte: string }): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port(), '127.0.0.1');
  let out = '';
  socket.on('data', (c) => (out += c));
  socket.write(head);
  let timer: NodeJS.Timeout | undefined;
  if (drip) timer = setInterval(() => socket.writable && socket.write(drip.byte), drip.every);
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve(out);
    });
    socket.on('error', () => undefined);
  });
  return { socket, closed };
}

describe('connections a client tries to hold', () => {
  it('answers a 405 to a POST with a large unread body and closes the connection at once', async () => {
    const { closed } = exchange(`POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx`, { every: 50, byte: 'x' });
    const out = await closed;
    expect(out).toMatch(/^HTTP\/1\.1 405/);
    expect(out).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('closes the connection after refusing an upload whose body it will not read', async () => {
    const { closed } = exchange(
      `POST /v1/accounts/${account.sid}/media?kind=message HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!\r\nContent-Length: 1000000\r\n\r\nx`,
      { every: 50, byte: 'x' },
    );
    const out = await closed;
    expect(out).toMatch(/^HTTP\/1\.1 401/);
    expect(out).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('cuts off an upload whose body stalls below the minimum pace', async () => {
    const watching = scheduler.pending;
    const { closed } = exchange(
      `POST /v1/accounts/${account.sid}/media?kind=message HTTP/1.1\r\nHost: x\r\nAuthorization: ${account.basic}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nx`,
    );
    await until(() => scheduler.pending > watching); // the upload is being read, and watched
    scheduler.advance(60_000); // a minute with one byte
    await closed; // resolves only because the server closed the socket
    const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [account.sid]);
    expect(rows[0].n).toBe(0);
    expect(svc.logLines.join('')).toContain('"error":"request_timeout"');
  });

  it('refuses connections past MAX_CONNECTIONS, and serves again once they are gone', async () => {
    const held = Array.from({ length: 20 }, () => exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`));
    // Each held connection has had its answer: all 20 are open and counted.
    await Promise.all(held.map(({ socket }) => new Promise((r) => socket.once('data', r))));
    const extra = exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(await extra.closed).toBe(''); // closed without an answer
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map(({ closed }) => closed));
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
  });
});
