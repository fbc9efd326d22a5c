import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * stdout through an asynchronous buffer: a synchronous write per request costs a
 * syscall on the redirect's hot path (~7 % of its CPU, profiled). Flushed every 250 ms
 * and on exit, so lines are late by at most that, and not lost on a clean stop.
 */
function bufferedStdout(): pino.DestinationStream {
  let exiting = false;
  let broken = false;
  // Registered before the destination, whose own exit hook (pino's autoEnd) flushes
  // synchronously: by then `exiting` must already be set.
  process.once('exit', () => {
    exiting = true;
  });
  const stream = pino.destination({
    dest: 1,
    sync: false,
    minLength: 8192,
    // A reader that stopped reading (a hung supervisor: the pipe stays full) must not hold
    // the process at exit, where sonic-boom's flush retries EAGAIN forever (seen: a
    // SIGTERM'd service that never exited). While running, retrying is right.
    retryEAGAIN: () => !exiting,
  });
  // stdout gone (its reader died: EPIPE): the lines have nowhere to go, and the error
  // must not crash the process.
  stream.on('error', () => {
    broken = true;
  });
  const timer = setInterval(() => !broken && stream.flush(), 250);
  timer.unref();
  process.once('exit', () => {
    if (broken) return;
    try {
      stream.flushSync();
    } catch {
      // stdout full or closed at exit: the remaining lines are lost, the exit is not
    }
  });
  return stream;
}

/**
 * JSON lines on stdout. Every line is built field by field: never a whole request,
 * header set or query string (they carry credentials and URL signatures). pino's
 * `redact` option is not used: it cost ~7 % of the redirect's CPU (profiled) to guard
 * objects we never log; test/integration/logs.test.ts greps a full run for secrets.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  // Humans at a terminal get readable lines; pipes and files get JSON.
  if (destination === undefined && process.stdout.isTTY) {
    destination = pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } });
  }
  if (destination === undefined) destination = bufferedStdout();
  return pino(
    {
      level,
      base: { pid: process.pid },
    },
    destination,
  );
}
