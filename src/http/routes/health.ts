import Router from '@koa/router';
import type { Db } from '../../db/pool.js';
import { isMigrated, type MigrationFile } from '../../db/migrate.js';
import type { Metrics } from '../../metrics.js';
import { ServiceUnavailable } from '../../domain/errors.js';
import { digestsEqual, hashSecret } from '../../domain/secrets.js';
import { errorBody } from '../errors.js';

export function healthRoutes(
  router: Router,
  deps: { db: Db; migrations: MigrationFile[]; metrics: Metrics; metricsToken: string | undefined },
): void {
  const expected = deps.metricsToken === undefined ? undefined : hashSecret(`Bearer ${deps.metricsToken}`);
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
    // Optional: metrics name routes and volumes, which some operators keep private.
    if (expected && !digestsEqual(hashSecret(ctx.get('Authorization')), expected)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = errorBody(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
      return;
    }
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
}
