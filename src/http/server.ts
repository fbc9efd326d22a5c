import { createServer, STATUS_CODES, type Server } from 'node:http';
import type Koa from 'koa';
import { errorBody } from './errors.js';

export interface HttpServerOptions {
  maxConnections: number;
}

/**
 * The socket server around the app, with the limits no handler can set:
 * - headers within 20 s, a whole request within an hour (an upload of MEDIA_MAX_BYTES
 *   on a slow link), a socket silent for 2 minutes closed; uploads must also keep a
 *   pace (upload-pace.ts) and small JSON bodies arrive within 10 s (input.ts);
 * - at most maxConnections open connections: further ones are closed at once;
 * - requests Node's parser refuses still get the contract's JSON error.
 */
export function createHttpServer(app: Koa, options: HttpServerOptions): Server {
  const server = createServer(app.callback());
  server.requestTimeout = 3600_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = options.maxConnections;
  server.setTimeout(120_000, (socket) => socket.destroy());
  answerParseErrorsWithJson(server);
  return server;
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
