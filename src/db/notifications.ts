import pg from 'pg';
import type { Queryable } from './pool.js';

// Caches of credentials and media rows live in each instance's memory. A change made
// through any instance is announced with NOTIFY in the same transaction (delivered on
// commit), and every instance drops what it cached for that account at once.

const CHANNEL = 'mediagate_invalidate';

export type Invalidation =
  | { kind: 'credentials'; accountSid: string }
  | { kind: 'media'; accountSid: string; mediaSid?: string | undefined }
  | { kind: 'share_links'; accountSid: string };

export async function notifyInvalidation(db: Queryable, invalidation: Invalidation): Promise<void> {
  await db.query({
    name: 'notify-invalidation',
    text: 'SELECT pg_notify($1, $2)',
    values: [CHANNEL, JSON.stringify(invalidation)],
  });
}

export interface InvalidationFeed {
  /** whether LISTEN is in place right now: only then may anything be served from a cache */
  isConnected(): boolean;
  /** resolves once LISTEN is in place (at once if it is) */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface FeedHandlers {
  onInvalidation(invalidation: Invalidation): void;
  /** LISTEN is in place (again): notifications sent while it was not were missed */
  onConnected(): void;
  /** the connection is gone (err says why, unless it was closed on purpose) */
  onLost(err: Error | undefined): void;
}

export interface FeedOptions {
  /** how often the connection is proven alive with a query (a silent network drop sends no error) */
  heartbeatMillis?: number;
  /** longest wait between reconnection attempts */
  maxRetryMillis?: number;
}

/**
 * Holds one dedicated connection in LISTEN, reconnecting with backoff. While it is down
 * the instance cannot hear revocations, so the caller stops trusting its caches
 * (onLost) until LISTEN is back (onConnected), and /readyz says so.
 */
export function listenForInvalidations(databaseUrl: string, handlers: FeedHandlers, options: FeedOptions = {}): InvalidationFeed {
  const heartbeatMillis = options.heartbeatMillis ?? 5000;
  // Short: each second of reconnection is a second of not-ready and of uncached requests.
  const maxRetryMillis = options.maxRetryMillis ?? 1000;
  let client: pg.Client | undefined;
  let connected = false;
  let markReady!: () => void;
  let ready = new Promise<void>((resolve) => (markReady = resolve));
  let closed = false;
  let retryMillis = 100;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: 2000,
      query_timeout: 2000,
      keepAlive: true,
      application_name: 'mediagate-listen',
    });
    client = c;
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = undefined;
      clearInterval(heartbeat);
      if (connected) {
        connected = false;
        ready = new Promise<void>((resolve) => (markReady = resolve));
      }
      handlers.onLost(err);
      c.end().catch(() => undefined);
      if (!closed) {
        retryTimer = setTimeout(() => void connect(), retryMillis);
        retryTimer.unref();
        retryMillis = Math.min(retryMillis * 2, maxRetryMillis);
      }
    };
    c.on('error', lost);
    c.on('end', () => lost(new Error('the LISTEN connection was closed by the server')));
    c.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        handlers.onInvalidation(JSON.parse(msg.payload) as Invalidation);
      } catch {
        handlers.onConnected(); // unreadable: treat as missed, drop everything
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      lost(err as Error);
      return;
    }
    if (client !== c) return;
    retryMillis = 100;
    connected = true;
    handlers.onConnected();
    markReady();
    heartbeat = setInterval(() => {
      c.query('SELECT 1').catch((err: Error) => lost(err));
    }, heartbeatMillis);
    heartbeat.unref();
  };
  void connect();

  return {
    isConnected: () => connected,
    ready: () => ready,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      const c = client;
      if (c) {
        client = undefined;
        clearInterval(heartbeat);
        connected = false;
        handlers.onLost(undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
