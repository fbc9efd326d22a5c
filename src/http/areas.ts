import type { Config } from '../config.js';
import type { LocalStore } from '../domain/blobs.js';
import type { ReadinessProbe } from '../domain/readiness.js';
import type { Metrics } from '../metrics.js';
import type { Area } from './area.js';
import { basicChallenge, type AuthDeps } from './auth.js';
import { anyOriginCors, originPolicy, SANDBOX_CSP } from './browser-policy.js';
import type { ApiDeps } from './routes/api-deps.js';
import { blobRoutes } from './routes/blobs.js';
import { consoleRoutes, type ConsoleDeps } from './routes/console.js';
import { credentialRoutes } from './routes/credentials.js';
import { docsRoutes } from './routes/docs.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { mediaRoutes } from './routes/media.js';
import { mediaUrlRoutes } from './routes/media-url.js';
import { settingsRoutes } from './routes/settings.js';
import { shareLinkRoutes } from './routes/share-links.js';
import { uploadRoutes } from './routes/uploads.js';
import { GONE_PAGE, sharedRoutes, type SharedDeps } from './routes/shared.js';

export type AreaConfig = Pick<
  Config,
  | 'publicBaseUrl'
  | 'publicBaseUrlSet'
  | 'corsOrigins'
  | 'mediaUrlTtlSeconds'
  | 'mediaMaxBytes'
  | 'metricsToken'
  | 'shareLinkMaxSeconds'
  | 'shareUrlTtlSeconds'
  | 'uploadUrlTtlSeconds'
  | 'limits'
>;

export interface AreaDeps {
  config: AreaConfig;
  api: ApiDeps & AuthDeps;
  shareLinks: SharedDeps;
  console: Omit<ConsoleDeps, 'pageBase'>;
  /** set: the zero-config store, whose signed blob URLs this service serves */
  localStore: LocalStore | undefined;
  clock: () => Date;
  readiness: ReadinessProbe;
  metrics: Metrics;
  openApiDocument(): string;
}

const nothing = () => undefined;

/**
 * Every route the service answers, by area, each area with its policy: what applies to
 * a path is read here. `deps` undefined: the routes alone, for the reference document.
 */
export function createAreas(config: AreaConfig, deps?: AreaDeps): Area[] {
  const origins = originPolicy(config);
  const areas: Area[] = [
    {
      // The account's API: any credential of the account, or its owner's (per route).
      name: 'api',
      routes: [...uploadRoutes(config), ...mediaRoutes(config), ...shareLinkRoutes(config), ...settingsRoutes(), ...credentialRoutes(), ...eventRoutes()],
      deps: deps?.api,
      enter(ctx, allow) {
        if (origins.cors(ctx, allow)) return true;
        origins.refuseCrossSiteWrites(ctx);
        return false;
      },
      challenge: basicChallenge,
      // Answers to a credential (secrets shown once among them) are kept by no cache.
      leave: (ctx) => ctx.set('Cache-Control', 'no-store'),
    },
    {
      // The media URL handed to webhooks, GET and HEAD (its DELETE is the API's).
      name: 'media-url',
      routes: mediaUrlRoutes(config),
      deps: deps?.api,
      enter: (ctx, allow) => origins.cors(ctx, allow),
      challenge: basicChallenge,
      leave: (ctx) => ctx.set('Cache-Control', 'private, no-store'),
    },
    {
      // Share links: capabilities for people and players with no credentials. Any page
      // may use one (an <audio> of another site); nothing of it is cached or indexed, nor
      // sent on as a Referer; its path (the token) is not logged.
      name: 'shared',
      routes: sharedRoutes(config),
      deps: deps?.shareLinks,
      redactsPath: true,
      enter: (ctx, allow) => anyOriginCors(ctx, allow, 'Range, If-None-Match', 'Location, Content-Length, Content-Range, ETag, X-Request-Id'),
      challenge: nothing,
      leave(ctx) {
        ctx.set('Cache-Control', 'private, no-store');
        ctx.set('Referrer-Policy', 'no-referrer');
        ctx.set('X-Robots-Tag', 'noindex, nofollow');
        if (ctx.status === 404 && ctx.method === 'GET' && ctx.accepts('json', 'html') === 'html') {
          ctx.set('Content-Security-Policy', "default-src 'none'");
          ctx.type = 'text/html; charset=utf-8';
          ctx.body = GONE_PAGE;
        }
      },
    },
    {
      // The local store's signed URLs: bearer capabilities any page may fetch; whatever
      // they serve, errors included, runs nothing even if opened as a document.
      name: 'blobs',
      routes: deps && !deps.localStore ? [] : blobRoutes(),
      deps: deps && { localStore: deps.localStore, clock: deps.clock, uploadPace: deps.api.uploadPace },
      enter(ctx, allow) {
        ctx.set('Content-Security-Policy', SANDBOX_CSP);
        // Content-Type: a page PUTs a direct upload with it (the console does).
        return anyOriginCors(ctx, allow, 'Range, If-None-Match, Content-Type', 'Content-Length, Content-Range, ETag');
      },
      challenge: nothing,
      leave: nothing,
    },
    {
      // The owner's console: a page of this origin; its writes only from this origin. Its
      // 401s never challenge (a browser would prompt for, then cache, Basic credentials).
      name: 'console',
      routes: consoleRoutes(),
      deps: deps && { ...deps.console, pageBase: origins.pageBase },
      enter(ctx) {
        origins.refuseCrossSiteWrites(ctx);
        return false;
      },
      challenge: nothing,
      // No cache keeps any of it: the session's answers carry its CSRF token, and the
      // page and assets (small, served from memory, sent with a session cookie) would gain
      // little from a revalidation.
      leave: (ctx) => ctx.set('Cache-Control', 'no-store'),
    },
    {
      // Health, readiness, metrics and the API reference: for probes and people, on any host.
      name: 'ops',
      routes: [...healthRoutes(config.metricsToken), ...docsRoutes()],
      deps: deps && { readiness: deps.readiness, metrics: deps.metrics, openApiDocument: deps.openApiDocument, pageBase: origins.pageBase },
      enter: () => false,
      challenge: nothing,
      leave: nothing,
    },
  ];
  return areas;
}
