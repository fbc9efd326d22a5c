import { createServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import type Koa from 'koa';
import type { Limits } from '../config.js';
import { errorBody } from './errors.js';

export interface HttpServerOptions {
  maxConnections: number;
  limits: Pick<Limits, 'headersTimeoutSeconds' | 'requestTimeoutSeconds' | 'keepAliveTimeoutSeconds' | 'idleSocketTimeoutSeconds'>;
}

export interface HttpServer {
  readonly server: Server;
  /**
   * Stops accepting connections; from then every answer carries `Connection: close`,
   * idle connections are closed, and requests in flight finish. Resolves once every
   * connection is gone, cutting off what is left after drainMillis.
   */
  drain(drainMillis: number): Promise<'drained' | 'cut off'>;
}

// Idle kept-alive connections are closed this long after the drain begins, not at once.
// A proxy may be writing a request on one at the very moment it is closed; for a POST
// nginx cannot know whether it was received and answers 502 (HTTP/1.1 has no way to
// close a connection without that race). Meanwhile a proxy that uses its connections
// gets each answered with `Connection: close`, so they end without a race; what is still
// idle after the grace is a connection the proxy had no use for.
const IDLE_GRACE_MILLIS = 500;
const IDLE_SWEEP_MILLIS = 100;

/**
 * The socket server around the app, with the limits no handler can set:
 * - headers within HEADERS_TIMEOUT_SECONDS, a whole request within REQUEST_TIMEOUT_SECONDS
 *   (an upload of MEDIA_MAX_BYTES on a slow link), a silent socket closed after
 *   IDLE_SOCKET_TIMEOUT_SECONDS; uploads must also keep a pace (upload-pace.ts) and
 *   small JSON bodies arrive in time (input.ts);
 * - at most maxConnections open connections: further ones are closed at once;
 * - requests Node's parser refuses still get the contract's JSON error;
 * - a drain that a load balancer's kept-alive connections cannot outlive: Node's own
 *   server.close() keeps answering them with `Connection: keep-alive`, so a proxy such as
 *   nginx would keep sending requests until the deadline cut them off.
 */
export function createHttpServer(app: Koa, options: HttpServerOptions): HttpServer {
  let draining = false;
  // Every response's head passes through writeHead (Koa's too, implicitly): the one
  // place where "this connection ends after this answer" can be said, without a
  // listener per request.
  class DrainAwareResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override writeHead(statusCode: number, ...rest: any[]): this {
      if (draining) this.setHeader('Connection', 'close');
      return (super.writeHead as (...args: unknown[]) => this)(statusCode, ...rest);
    }

    // A response whose head went out before the drain (a long download) said keep-alive:
    // its connection ends right after it, before the client can send another request.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override end(...args: any[]): this {
      if (draining && this.headersSent) {
        const socket = this.socket;
        this.once('finish', () => socket?.end());
      }
      return (super.end as (...a: unknown[]) => this)(...args);
    }
  }
  const server = createServer({ ServerResponse: DrainAwareResponse }, app.callback());
  const { limits } = options;
  server.requestTimeout = limits.requestTimeoutSeconds * 1000;
  server.headersTimeout = limits.headersTimeoutSeconds * 1000;
  server.keepAliveTimeout = limits.keepAliveTimeoutSeconds * 1000;
  server.maxConnections = options.maxConnections;
  server.setTimeout(limits.idleSocketTimeoutSeconds * 1000, (socket) => socket.destroy());
  answerParseErrorsWithJson(server);

  return {
    server,
    async drain(drainMillis) {
      draining = true;
      if (!server.listening) return 'drained';
      let cutOff = false;
      // The listener closes now; http.Server's own close() would also close every idle
      // connection at once (see IDLE_GRACE_MILLIS), so the socket server's is called.
      const closed = new Promise<void>((done) => NetServer.prototype.close.call(server, () => done()));
      let sweep: NodeJS.Timeout | undefined;
      const grace = setTimeout(() => {
        server.closeIdleConnections();
        sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MILLIS);
      }, Math.min(IDLE_GRACE_MILLIS, drainMillis));
      const deadline = setTimeout(() => {
        cutOff = true;
        server.closeAllConnections();
      }, drainMillis);
      await closed;
      clearTimeout(grace);
      clearInterval(sweep);
      clearTimeout(deadline);
      return cutOff ? 'cut off' : 'drained';
    },
  };
}

/**
 * Requests Node's HTTP parser refuses (headers over 16 KB, a malformed request line or
 * chunk) never reach Koa; answer them with the contract's JSON error too.
 */
function answerParseErrorsWithJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'HPE_URI_TOO_LONG' ? 414 : 400;
    const body = JSON.stringify(errorBody(status, undefined, undefined));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
