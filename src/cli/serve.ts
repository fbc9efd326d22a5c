import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { countAccounts } from '../db/queries/accounts.js';
import { buildService, openResources, type Resources } from '../service.js';

/**
 * `mediagate serve`: migrate, then listen until SIGTERM/SIGINT, then drain and exit 0.
 * With WORKERS > 1 this process becomes the primary of a node:cluster: it migrates, owns
 * the embedded database if there is one, and forks the workers that share the port.
 */
export async function serve(config: Config, log: Logger): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return servePrimary(config, log);
  return serveHttp(config, log, { isWorker: cluster.isWorker });
}

async function serveHttp(config: Config, log: Logger, options: { isWorker: boolean }): Promise<number> {
  // Workers neither migrate nor own the embedded database: the primary does both.
  const service = await buildService(config, log, { serving: !options.isWorker, migrate: !options.isWorker });
  const port = await service.listen();
  // Signals are handled from before the banner says we listen: a SIGTERM right after it
  // must drain, not kill.
  const stopped = untilStopped(log, async (signal) => {
    log.info({ signal, timeout_seconds: config.shutdownTimeoutSeconds }, 'shutting down: draining requests');
    await service.stop(config.shutdownTimeoutSeconds * 1000);
  });
  if (!options.isWorker) {
    const firstStart = (await countAccounts(service.resources.db)) === 0;
    process.stderr.write(banner(config, port, service.resources, firstStart, 1));
    log.info({ port, host: config.host, database: service.resources.databaseDescription, store: service.resources.store?.description }, 'listening');
  }
  return stopped;
}

async function servePrimary(config: Config, log: Logger): Promise<number> {
  // The store is opened once here so that the local store's first signing key is made
  // by one process, not raced by every worker.
  const resources = await openResources(config, log, { serving: true });
  const applied = await migrate(resources.db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const firstStart = (await countAccounts(resources.db)) === 0;

  let stopping = false;
  const listening = new Set<number>();
  const fork = () => cluster.fork();
  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    if (listening.size === config.workers) {
      process.stderr.write(banner(config, address.port, resources, firstStart, config.workers));
      log.info({ port: address.port, workers: config.workers }, 'listening');
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  const stopped = untilStopped(log, async (signal) => {
    stopping = true;
    log.info({ signal }, 'shutting down: draining workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    const exits = workers.map((w) => new Promise<void>((done) => (w.isDead() ? done() : w.once('exit', () => done()))));
    for (const w of workers) w.process.kill('SIGTERM');
    const kill = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), (config.shutdownTimeoutSeconds + 5) * 1000);
    kill.unref();
    await Promise.all(exits);
    clearTimeout(kill);
    await resources.close();
  });
  for (let i = 0; i < config.workers; i++) fork();
  return stopped;
}

function banner(config: Config, port: number, resources: Resources, firstStart: boolean, workers: number): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const lines = [
    `mediagate listening on http://${host}:${port} (public URL ${config.publicBaseUrl})${workers > 1 ? ` with ${workers} workers` : ''}`,
    `  database: ${resources.databaseDescription}`,
    `  store:    ${resources.store?.description ?? 'none'}`,
    `  console:  ${config.publicBaseUrl}/console`,
  ];
  if (firstStart) lines.push('  no accounts yet: create one with `npx mediagate accounts create --name me`');
  return `${lines.join('\n')}\n`;
}

/**
 * Resolves with the exit status once SIGTERM or SIGINT arrived and `stop` ran (once,
 * whatever signals follow): 0, or 1 if stopping failed.
 */
function untilStopped(log: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stop(signal).then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: Error) => {
          log.error({ err: err.message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
