import type { Context } from 'koa';
import { RequestTimeout } from './http-errors.js';

export interface UploadPace {
  /** how often progress is checked */
  windowMillis: number;
  /** bytes that must arrive in each window while the body is unfinished */
  minBytesPerWindow: number;
}

// 64 KiB a minute is a link slower than any phone's: only a stalled or malicious
// client falls below it. A 100 MiB upload at that pace would still be refused by the
// server's total request time (http/server.ts), which bounds every request.
export const DEFAULT_UPLOAD_PACE: UploadPace = { windowMillis: 60_000, minBytesPerWindow: 64 * 1024 };

/**
 * Cuts off an upload whose body stops arriving (one byte a minute keeps a socket from
 * ever being idle): every window, the socket must have read minBytesPerWindow more.
 * Counting the socket's bytes adds no stream between the request and the store.
 * Returns the function that stops watching.
 */
export function watchUploadPace(ctx: Context, pace: UploadPace): () => void {
  const socket = ctx.req.socket;
  let seen = socket.bytesRead;
  const timer = setInterval(() => {
    if (ctx.req.complete) return stop();
    if (socket.bytesRead - seen < pace.minBytesPerWindow) {
      stop();
      ctx.req.destroy(new RequestTimeout('the upload stalled: too few bytes arrived in time'));
      return;
    }
    seen = socket.bytesRead;
  }, pace.windowMillis);
  timer.unref();
  const stop = () => clearInterval(timer);
  return stop;
}
