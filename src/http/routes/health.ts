import Router from '@koa/router';
import type { Db } from '../../db/pool.js';
import { isMigrated, type MigrationFile } from '../../db/migrate.js';
import type { Metrics } from '../../metrics.js';
import { ServiceUnavailable } from '../../domain/errors.js';

export function healthRoutes(router: Router, deps: { db: Db; migrations: MigrationFile[]; metrics: Metrics }): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    let ready = false;
    try {
      ready = await isMigrated(deps.db, deps.migrations);
    } catch {
      ready = false;
    }
    if (!ready) throw new ServiceUnavailable('the database is unreachable or not migrated');
    ctx.body = { status: 'ready' };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
}
