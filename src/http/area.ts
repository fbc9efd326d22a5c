import type { Context } from 'koa';
import type { Route } from './route.js';

/**
 * A group of routes under one policy, as fastify's encapsulated plugins carry their
 * own hooks: what browsers may do (CORS, writes from other origins), which challenge a
 * 401 carries, how answers may be cached. The request cycle (app.ts) applies an area's
 * policy to its routes alone, errors, preflights and 405s on its paths included: what
 * applies to a path is read in one file.
 */
export interface Area {
  readonly name: string;
  readonly routes: readonly Route<never>[];
  /** what the routes' handlers are given */
  readonly deps: unknown;
  /**
   * Runs first for every request to one of the area's paths, with the methods the path
   * takes; true when it answered (a CORS preflight).
   */
  enter(ctx: Context, allow: readonly string[]): boolean;
  /** the WWW-Authenticate header of the area's 401s, if any */
  challenge(ctx: Context): string | undefined;
  /** headers every answer of the area carries, errors included (Cache-Control, CSP) */
  leave(ctx: Context): void;
  /** the access line shows the route's pattern, not the path (a path that is a secret) */
  readonly redactsPath?: boolean;
}
