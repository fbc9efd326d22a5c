// The drain of SIGTERM, in the service as `serve` builds it, over raw sockets: what a
// load balancer's kept-alive connections see. The delay is ended by the test
// (endDelay, as a SIGINT would), never waited out.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { newAccount, startService, type TestService } from '../support/service.js';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

interface Connection {
  socket: Socket;
  /** resolves with the next complete response read on this connection */
  nextResponse(): Promise<string>;
  closed: Promise<void>;
}

/** A kept-alive HTTP/1.1 connection, as a proxy's upstream pool holds them. */
function open(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    const waiting: ((r: string) => void)[] = [];
    const drain = () => {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1 || waiting.length === 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const response = buffer.slice(0, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        waiting.shift()!(response);
      }
    };
    socket.on('data', (c) => {
      buffer += c;
      drain();
    });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', () => undefined);
    socket.once('connect', () =>
      resolve({
        socket,
        closed,
        nextResponse: () =>
          new Promise((r) => {
            waiting.push(r);
            drain();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

describe('SIGTERM drain', () => {
  it('is not ready at once but keeps serving new and kept-alive connections during the delay', async () => {
    svc = await startService();
    const port = Number(new URL(svc.baseUrl).port);
    const kept = await open(port);
    kept.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await kept.nextResponse()).toMatch(/^HTTP\/1\.1 200[^]*Connection: keep-alive/i);

    const stopped = svc.service.stop({ delayMillis: 600_000, drainMillis: 10_000 });
    const ready = await fetch(`${svc.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { error: { message: string }; checks: Record<string, { ok: boolean }> };
    expect(body.checks.serving!.ok).toBe(false);
    expect(body.error.message).toContain('serving');
    // Still served, on a new connection and on the kept one, with keep-alive.
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    kept.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await kept.nextResponse()).toMatch(/Connection: keep-alive/i);

    svc.service.endDelay();
    await kept.closed; // an idle kept-alive connection is closed by the service
    await stopped;
    expect(await refused(port)).toBe(true);
  });

  it('after the delay: no new connections, Connection: close on answers in flight, and they finish', async () => {
    svc = await startService();
    const port = Number(new URL(svc.baseUrl).port);
    const account = await newAccount(svc.db);
    // An upload whose body is half sent when the drain begins.
    const uploading = await open(port);
    const body = 'a'.repeat(2000);
    uploading.socket.write(
      `POST /v1/accounts/${account.sid}/media?kind=message HTTP/1.1\r\nHost: x\r\nAuthorization: ${account.basic}\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 1000)}`,
    );
    // And a connection that stays idle.
    const idle = await open(port);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.nextResponse();

    const stopped = svc.service.stop({ delayMillis: 0, drainMillis: 10_000 });
    await idle.closed;
    expect(await refused(port)).toBe(true);

    uploading.socket.write(body.slice(1000));
    const answer = await uploading.nextResponse();
    expect(answer).toMatch(/^HTTP\/1\.1 201/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ size_bytes: 2000 });
    await uploading.closed;
    await stopped;
  });

  it('cuts off what is still in flight when the drain deadline passes', async () => {
    svc = await startService();
    const port = Number(new URL(svc.baseUrl).port);
    const account = await newAccount(svc.db);
    const stuck = await open(port);
    stuck.socket.write(
      `POST /v1/accounts/${account.sid}/media?kind=message HTTP/1.1\r\nHost: x\r\nAuthorization: ${account.basic}\r\n` +
        'Content-Type: text/plain\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n',
    );
    // 100 Continue: the request is the service's now (not an idle connection).
    expect(await new Promise((r) => stuck.socket.once('data', (c) => r(String(c))))).toMatch(/^HTTP\/1\.1 100/);
    stuck.socket.write('only part of it');
    await svc.service.stop({ delayMillis: 0, drainMillis: 200 });
    await stuck.closed;
    await svc.logLine((l) => typeof l.msg === 'string' && l.msg.startsWith('shutdown deadline reached'));
  });
});
