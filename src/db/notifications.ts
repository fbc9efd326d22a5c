import pg from 'pg';
import type { Queryable } from './pool.js';

// Caches of credentials and media rows live in each instance's memory. A change made
// through any instance is announced with NOTIFY in the same transaction (delivered on
// commit), and every instance drops what it cached for that account at once.

const CHANNEL = 'mediagate_invalidate';

export type Invalidation =
  | { kind: 'credentials'; accountSid: string }
  | { kind: 'media'; accountSid: string; mediaSid?: string | undefined };

export async function notifyInvalidation(db: Queryable, invalidation: Invalidation): Promise<void> {
  await db.query({
    name: 'notify-invalidation',
    text: 'SELECT pg_notify($1, $2)',
    values: [CHANNEL, JSON.stringify(invalidation)],
  });
}

export interface InvalidationListener {
  /** resolves once LISTEN is in place (at once if it is): notifications sent while it was not are missed */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface ListenerHandlers {
  onInvalidation(invalidation: Invalidation): void;
  /** the connection was (re-)established: anything cached before may be stale */
  onReset(): void;
  onError?(err: Error): void;
}

/**
 * Holds one dedicated connection in LISTEN, reconnecting with backoff. Every
 * (re)connection calls onReset, because notifications sent while it was down are lost.
 */
export function listenForInvalidations(databaseUrl: string, handlers: ListenerHandlers): InvalidationListener {
  let client: pg.Client | undefined;
  let isListening = false;
  let markListening!: () => void;
  let listening = new Promise<void>((resolve) => (markListening = resolve));
  let closed = false;
  let retryMillis = 100;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000, application_name: 'mediagate-listen' });
    client = c;
    // Losing the connection does not flush: while the database is down nothing can be
    // revoked, and cached entries keep redirects working. What was missed meanwhile is
    // flushed on reconnection (onReset below); the caches' expiry bounds the gap.
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = undefined;
      if (isListening) {
        isListening = false;
        listening = new Promise<void>((resolve) => (markListening = resolve));
      }
      if (err) handlers.onError?.(err);
      c.end().catch(() => undefined);
      if (!closed) {
        timer = setTimeout(() => void connect(), retryMillis);
        timer.unref();
        retryMillis = Math.min(retryMillis * 2, 5000);
      }
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        handlers.onInvalidation(JSON.parse(msg.payload) as Invalidation);
      } catch {
        handlers.onReset();
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      retryMillis = 100;
      handlers.onReset();
      isListening = true;
      markListening();
    } catch (err) {
      lost(err as Error);
    }
  };
  void connect();

  return {
    ready: () => listening,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
