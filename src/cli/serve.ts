import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { countAccounts } from '../db/queries/accounts.js';
import { assertPortFree, buildService, openResources, type Resources } from '../service.js';

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
  // Workers neither migrate nor own the embedded database: the primary does both (and
  // checked the port).
  if (!options.isWorker) await assertPortFree(config);
  const service = await buildService(config, log, { serving: !options.isWorker, migrate: !options.isWorker });
  const port = await service.listen();
  // Signals are handled from before the banner says we listen: a SIGTERM right after it
  // must drain, not kill. SIGTERM (an orchestrator, a rolling deploy) waits
  // SHUTDOWN_DELAY_SECONDS first; SIGINT (Ctrl-C) does not, and ends a delay under way.
  const stopped = untilStopped(log, {
    stop: (signal) =>
      service.stop({
        delayMillis: signal === 'SIGTERM' ? config.shutdownDelaySeconds * 1000 : 0,
        drainMillis: config.shutdownTimeoutSeconds * 1000,
      }),
    hurry: () => service.endDelay(),
  });
  if (!options.isWorker) {
    const firstStart = (await countAccounts(service.resources.db)) === 0;
    process.stderr.write(banner(config, port, service.resources, firstStart, 1));
    log.info({ port, host: config.host, database: service.resources.databaseDescription, store: service.resources.store?.description }, 'listening');
  }
  return stopped;
}

async function servePrimary(config: Config, log: Logger): Promise<number> {
  await assertPortFree(config);
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
  const workers = () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  // Each worker drains as a single process does; the signal is passed on as it came
  // (SIGINT: no delay), and a later SIGINT hurries them too.
  const stopped = untilStopped(log, {
    async stop(signal) {
      stopping = true;
      log.info({ signal }, 'shutting down: draining workers');
      const running = workers();
      const exits = running.map((w) => new Promise<void>((done) => (w.isDead() ? done() : w.once('exit', () => done()))));
      for (const w of running) w.process.kill(signal);
      const graceSeconds = (signal === 'SIGTERM' ? config.shutdownDelaySeconds : 0) + config.shutdownTimeoutSeconds + 5;
      const kill = setTimeout(() => running.forEach((w) => w.process.kill('SIGKILL')), graceSeconds * 1000);
      kill.unref();
      await Promise.all(exits);
      clearTimeout(kill);
      await resources.close();
    },
    hurry: () => workers().forEach((w) => w.process.kill('SIGINT')),
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

interface Stopping {
  /** runs once, on the first SIGTERM or SIGINT */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** a signal while stopping: skip what is left of the delay */
  hurry(): void;
}

/**
 * Resolves with the exit status once SIGTERM or SIGINT arrived and `stop` ran (once;
 * a further signal only hurries it): 0, or 1 if stopping failed.
 */
function untilStopped(log: Logger, stopping: Stopping): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopped = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopped) {
        stopping.hurry();
        return;
      }
      stopped = true;
      log.info({ signal }, 'signal received');
      stopping.stop(signal).then(
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
