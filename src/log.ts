import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * JSON lines on stdout. Request logs are built field by field (never whole headers or
 * query strings, which carry credentials and URL signatures); the redaction below is a
 * second line of defence for anything that logs an object carrying them.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  // Humans at a terminal get readable lines; pipes and files get JSON.
  if (destination === undefined && process.stdout.isTTY) {
    destination = pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } });
  }
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'password',
          '*.password',
          'auth_token',
          'secret',
          'token',
          'connectionString',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
