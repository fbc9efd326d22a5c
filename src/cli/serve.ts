import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrate, readMigrations } from '../db/migrate.js';
import { countAccounts } from '../db/queries/accounts.js';
import { AuthThrottle, DEFAULT_THROTTLE } from '../domain/auth-throttle.js';
import { createAuthenticator } from '../domain/credentials.js';
import { createApp } from '../http/app.js';
import { openDatabase, openStore, startInvalidationFeed } from '../main.js';
import { createMetrics } from '../metrics.js';

/** `mediagate serve`: migrate, then listen until SIGTERM/SIGINT, then drain and exit 0. */
export async function serve(config: Config, log: Logger): Promise<number> {
  const database = await openDatabase(config, log, { serving: true });
  const migrations = await readMigrations();
  const applied = await migrate(database.db, migrations);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const { store, routes } = await openStore(config);
  const metrics = createMetrics();
  const clock = () => new Date();
  const authenticator = createAuthenticator({
    db: database.db,
    clock,
    throttle: new AuthThrottle({ ...DEFAULT_THROTTLE, maxFailures: config.authFailureLimit }),
  });
  const feed = startInvalidationFeed(database.url, authenticator, log);
  const app = createApp({
    config,
    db: database.db,
    store,
    authenticator,
    log,
    metrics,
    migrations,
    clock,
    extraRoutes: routes && ((router) => routes(router, clock)),
  });

  const server = createServer(app.callback());
  // Uploads of up to MEDIA_MAX_BYTES may take minutes on a slow link; headers may not.
  server.requestTimeout = 0;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  await listen(server, config.port, config.host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  const firstStart = (await countAccounts(database.db)) === 0;
  const lines = [
    `mediagate listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port} (public URL ${config.publicBaseUrl})`,
    `  database: ${database.description}`,
    `  store:    ${store.description}`,
  ];
  if (firstStart) lines.push('  no accounts yet: create one with `npx mediagate accounts create --name me`');
  process.stderr.write(`${lines.join('\n')}\n`);
  log.info({ port, host: config.host, database: database.description, store: store.description }, 'listening');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, timeout_seconds: config.shutdownTimeoutSeconds }, 'shutting down: draining requests');
      const deadline = setTimeout(() => {
        log.warn('shutdown deadline reached: closing remaining connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutSeconds * 1000);
      deadline.unref();
      await new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      clearTimeout(deadline);
      await feed.close();
      await store.close();
      await database.close();
      log.info('stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
