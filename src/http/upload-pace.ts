import type { Context } from 'koa';
import type { Scheduler } from '../scheduler.js';
import { RequestTimeout } from './errors.js';

export interface UploadPace {
  /** how often progress is checked */
  windowMillis: number;
  /** bytes that must arrive in each window while the body is unfinished (UPLOAD_MIN_BYTES_PER_MINUTE) */
  minBytesPerWindow: number;
  scheduler: Scheduler;
}

/**
 * Cuts off an upload whose body stops arriving (one byte a minute keeps a socket from
 * ever being idle): every window, the socket must have read minBytesPerWindow more.
 * Counting the socket's bytes adds no stream between the request and the store. A
 * slow link still gets through: 64 KiB a minute is slower than any phone's. Returns
 * the function that stops watching.
 */
export function watchUploadPace(ctx: Context, pace: UploadPace): () => void {
  if (pace.minBytesPerWindow === 0) return () => {};
  const socket = ctx.req.socket;
  let seen = socket.bytesRead;
  const stop = pace.scheduler.every(pace.windowMillis, () => {
    if (ctx.req.complete) return stop();
    if (socket.bytesRead - seen < pace.minBytesPerWindow) {
      stop();
      ctx.req.destroy(new RequestTimeout('the upload stalled: too few bytes arrived in time'));
      return;
    }
    seen = socket.bytesRead;
  });
  return stop;
}
