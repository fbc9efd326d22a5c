import { isMigrated, type MigrationFile } from '../db/migrate.js';
import type { Db } from '../db/pool.js';
import { StoreUnavailable } from '../storage/errors.js';
import type { Store } from '../storage/store.js';

/** What /readyz checks, in the order a failure is named. */
export const READINESS_CHECKS = ['serving', 'database', 'migrations', 'invalidation_feed', 'object_store'] as const;
export type ReadinessCheck = (typeof READINESS_CHECKS)[number];

export interface CheckResult {
  ok: boolean;
  /** why not, in the failing part's own words (never a secret) */
  detail?: string | undefined;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<ReadinessCheck, CheckResult>;
}

export interface ReadinessDeps {
  db: Db;
  migrations: MigrationFile[];
  feed: { isConnected(): boolean };
  store: Pick<Store, 'check'>;
  isShuttingDown(): boolean;
  clock: () => Date;
  /** the store is asked at most this often (a HeadBucket per probe would be a cost and a queue) */
  storeCheckEveryMillis?: number;
  /** told every report, for the gauges of /metrics */
  onReport?(report: ReadinessReport): void;
}

export interface ReadinessProbe {
  check(): Promise<ReadinessReport>;
}

/**
 * Whether this instance should receive traffic: not shutting down, the database
 * answering with every migration applied, the invalidation feed listening (else a
 * revocation could be missed), the object store answering and taking our credentials.
 * The store's answer is kept a few seconds and refreshed in the background, so a probe
 * never waits on a slow store once it has an answer; nothing here is on a request's path.
 */
export function createReadinessProbe(deps: ReadinessDeps): ReadinessProbe {
  const storeEvery = deps.storeCheckEveryMillis ?? 5000;
  let storeAnswer: CheckResult | undefined;
  let storeCheckedAt = -Infinity;
  let storeChecking: Promise<CheckResult> | undefined;

  const askStore = (): Promise<CheckResult> => {
    storeChecking ??= deps.store
      .check()
      .then(
        () => ({ ok: true }),
        (err: unknown) => ({ ok: false, detail: err instanceof StoreUnavailable ? err.reason : String((err as Error)?.message ?? err) }),
      )
      .then((answer) => {
        storeAnswer = answer;
        storeCheckedAt = deps.clock().getTime();
        storeChecking = undefined;
        return answer;
      });
    return storeChecking;
  };

  const storeCheck = async (): Promise<CheckResult> => {
    const stale = deps.clock().getTime() - storeCheckedAt >= storeEvery;
    if (storeAnswer === undefined) return askStore();
    if (stale) void askStore();
    return storeAnswer;
  };

  const databaseChecks = async (): Promise<Pick<ReadinessReport['checks'], 'database' | 'migrations'>> => {
    try {
      const migrated = await isMigrated(deps.db, deps.migrations);
      return {
        database: { ok: true },
        migrations: migrated ? { ok: true } : { ok: false, detail: 'migrations are pending: run `mediagate migrate`' },
      };
    } catch (err) {
      const detail = (err as Error).message;
      // A database that answers without schema_migrations is one never migrated.
      if ((err as { code?: string }).code === '42P01') return { database: { ok: true }, migrations: { ok: false, detail: 'the database is not migrated' } };
      return { database: { ok: false, detail }, migrations: { ok: false, detail: 'unknown: the database does not answer' } };
    }
  };

  return {
    async check() {
      const [db, objectStore] = await Promise.all([databaseChecks(), storeCheck()]);
      const checks: ReadinessReport['checks'] = {
        serving: deps.isShuttingDown() ? { ok: false, detail: 'the service is shutting down' } : { ok: true },
        ...db,
        invalidation_feed: deps.feed.isConnected() ? { ok: true } : { ok: false, detail: 'LISTEN is not connected: revocations could be missed' },
        object_store: objectStore,
      };
      const report = { ready: READINESS_CHECKS.every((name) => checks[name].ok), checks };
      deps.onReport?.(report);
      return report;
    },
  };
}
