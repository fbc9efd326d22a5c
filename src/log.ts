import { fstatSync, writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

// A batch of whole lines no larger than PIPE_BUF is written to a pipe atomically, so
// the lines of several workers sharing stdout never interleave mid-line. A file takes
// larger batches (each write to one cost ~35 µs here, whatever its size).
const PIPE_BUF = 4096;
const FILE_BATCH_BYTES = 64 * 1024;
const FLUSH_EVERY_MILLIS = 100;
// What stdout may hold unwritten (a reader that fell behind) before lines are dropped.
const MAX_QUEUED_BYTES = 8 * 2 ** 20;

/**
 * stdout, written in batches of whole lines: a write per request cost a syscall on the
 * redirect's hot path (~7 % of its CPU, profiled), and pino's asynchronous destination
 * fell behind under load (one 16 KB write in flight per event-loop turn) and buffered
 * without bound (~1 MB more heap per second at 6k redirects/s, seen with --trace-gc).
 * Lines are late by at most FLUSH_EVERY_MILLIS. When the reader stops reading, the
 * stream queues up to MAX_QUEUED_BYTES, then lines are dropped and counted (a warning
 * line says how many once it reads again), so a stuck supervisor costs neither memory
 * nor the service.
 */
export class BatchedStdout implements pino.DestinationStream {
  private lines: string[] = [];
  private bytes = 0;
  private dropped = 0;
  private broken = false;
  private readonly batchBytes: number;

  constructor(private readonly out: NodeJS.WritableStream & { writableLength: number; fd?: number } = process.stdout) {
    this.batchBytes = out.fd !== undefined && isFile(out.fd) ? FILE_BATCH_BYTES : PIPE_BUF;
    // Its reader died (EPIPE): the lines have nowhere to go, and must not crash the process.
    out.on('error', () => {
      this.broken = true;
    });
    setInterval(() => this.flush(), FLUSH_EVERY_MILLIS).unref();
    // At exit the stream's queue is not written, so what is still batched is written
    // directly, unless lines are queued ahead of it (which would reorder them) or
    // the reader is stuck (which would hold the exit).
    process.once('exit', () => {
      if (this.broken || this.out.writableLength > 0 || this.lines.length === 0) return;
      try {
        writeSync(this.out.fd ?? 1, this.lines.join(''));
      } catch {
        // stdout full or closed at exit: the last lines are lost, the exit is not
      }
    });
  }

  write(line: string): void {
    if (this.broken) return;
    if (this.out.writableLength > MAX_QUEUED_BYTES) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      this.append(`{"level":40,"time":${Date.now()},"pid":${process.pid},"dropped_lines":${this.dropped},"msg":"log lines dropped: stdout was not read"}\n`);
      this.dropped = 0;
    }
    this.append(line);
  }

  private append(line: string): void {
    const size = Buffer.byteLength(line);
    if (this.bytes + size > this.batchBytes) this.flush();
    this.lines.push(line);
    this.bytes += size;
  }

  flush(): void {
    if (this.broken || this.lines.length === 0) return;
    const batch = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    this.out.write(batch);
  }
}

function isFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
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
  if (destination === undefined) destination = new BatchedStdout();
  return pino(
    {
      level,
      base: { pid: process.pid },
    },
    destination,
  );
}
