import type { Context } from 'koa';
import { match as compilePath } from 'path-to-regexp';
import type { z } from 'zod';
import type { AnsweredCode } from './errors.js';

// A route is declared once: method, path, who may call it, its query and body schemas,
// what it answers, and its handler. That one declaration registers it (the route table
// below), puts it under its area's policy (areas/), and writes its part of the OpenAPI
// document (openapi.ts), as fastify's schema-first routes do.

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call: `none` (no credentials looked at), `optional` (credentials checked when
 * sent, by the route itself as the first step of its decision: the media URL),
 * `account` (any credential of the path's account), `owner` (the account's auth token
 * or its console session). The request cycle checks `account` and `owner` before the
 * handler runs.
 */
export type Auth = 'none' | 'optional' | 'account' | 'owner';

type Json = Record<string, unknown>;

/** One answer of a route, for the reference. */
export interface Answer {
  description: string;
  /** a component of schemas.ts, answered as application/json */
  schema?: string;
  /** other content types */
  content?: Json;
  /** name → a header of openapi.ts's table (by name) or a header object */
  headers?: Record<string, string | Json>;
}

export interface ParameterNote {
  description: string;
  example?: unknown;
  /**
   * `value`: the reference describes the value the route reads, zod's output side
   * (`page_size`: an integer from 1 to 1000, default 50), not the text it arrives as (the
   * input side: a string of digits that zod converts). A query value is always text; an
   * OpenAPI parameter's schema is of the value that text stands for.
   */
  describes?: 'value';
  /** added to the converted schema: what the handler checks after the zod schema */
  schema?: Json;
}

export interface RouteInput<Q extends z.ZodType, B extends z.ZodType> {
  /** the path's parameters, by the names of ctx.params (`accountSid` for `{AccountSid}`) */
  params: Record<string, string>;
  /** the query, parsed with the route's schema (400 on a bad value); call it when the contract says to check it */
  query(): z.infer<Q>;
  /** the JSON body, read and parsed with the route's schema (400, 408, 413, 415) */
  body(): Promise<z.infer<B>>;
}

export interface Route<D, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** as the reference writes it: `/v1/accounts/{AccountSid}/keys/{KeySid}` */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  query?: Q;
  queryNotes?: Record<string, ParameterNote>;
  /** parameters besides the path's and the query schema's, as the reference writes them (Range, a signed URL's query) */
  parameters?: Json[];
  body?: { json: B; example: unknown; description?: string } | { other: Json };
  answers: Partial<Record<number, Answer>>;
  /** error codes this route answers besides its area's */
  errors?: AnsweredCode[];
  handle(ctx: Context, input: RouteInput<Q, B>, deps: D): Promise<void> | void;
  /**
   * The answer when everything it needs is in memory, without a promise (the redirect's
   * hot path): true if it answered; false sends the request the whole way (handle).
   */
  fromMemory?(ctx: Context, params: Record<string, string>, deps: D): boolean;
}

/** Keeps the schemas' types for the handler's input. */
export function route<D, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(r: Route<D, Q, B>): Route<D, Q, B> {
  return r;
}

// `{AccountSid}` in the reference is `accountSid` in ctx.params.
export const paramName = (name: string) => name[0]!.toLowerCase() + name.slice(1);

/** A route with its area, ready to match requests. */
export interface TableEntry<A> {
  route: Route<unknown, z.ZodType, z.ZodType>;
  area: A;
  /** the path as metrics name it: `/v1/accounts/:accountSid/media/:mediaSid` */
  label: string;
  /** the route's operation, as the access log names it */
  operationId: string;
  /** the path's parameters, or false */
  match(path: string): Record<string, string> | false;
  isStatic: boolean;
}

export type Lookup<A> =
  | { found: 'route'; entry: TableEntry<A>; params: Record<string, string> }
  | { found: 'path'; area: A; allow: string[] }
  | { found: 'nothing' };

/**
 * Every route of every area, matched exactly: case-sensitive, no trailing-slash
 * variants (`/V1/ACCOUNTS/…` is another, unknown path), so an exact-path rule at a
 * proxy cannot be side-stepped. Paths without parameters are found by a map lookup;
 * the others in declaration order. HEAD is answered by a GET route where there is no
 * HEAD route of its own.
 */
export class RouteTable<A> {
  private readonly byStaticPath = new Map<string, TableEntry<A>[]>();
  // By number of path segments: a request is matched only against paths as deep as its
  // own, the most particular first (more literal text: `…/{MediaSid}.json` before
  // `…/{MediaSid}`), then in declaration order.
  private readonly bySegments = new Map<number, TableEntry<A>[]>();
  private readonly all: TableEntry<A>[] = [];
  // The routes recent paths led to: a media URL is asked for again and again, and a
  // match costs a regular expression per route of the same depth (~3 µs for a media
  // path, measured) where this is one map lookup. Bounded: emptied when full.
  private readonly recent = new Map<string, Map<string, Lookup<A> & { found: 'route' }>>();

  add(area: A, routes: readonly Route<never, z.ZodType, z.ZodType>[]): this {
    for (const r of routes) {
      const koaPath = r.path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => `:${paramName(name)}`);
      const isStatic = !koaPath.includes(':');
      const matcher = compilePath<Record<string, string>>(koaPath, { sensitive: true, trailing: false, decode: safeDecode });
      const entry: TableEntry<A> = {
        route: r as unknown as Route<unknown, z.ZodType, z.ZodType>,
        area,
        label: koaPath,
        operationId: r.operationId,
        isStatic,
        match: (path) => {
          const m = matcher(path);
          return m && { ...m.params };
        },
      };
      this.all.push(entry);
      if (isStatic) {
        this.byStaticPath.set(r.path, [...(this.byStaticPath.get(r.path) ?? []), entry]);
        continue;
      }
      const depth = segments(r.path);
      const group = [...(this.bySegments.get(depth) ?? []), entry];
      group.sort((a, b) => literalLength(b.route.path) - literalLength(a.route.path));
      this.bySegments.set(depth, group);
    }
    return this;
  }

  lookup(method: string, path: string): Lookup<A> {
    let byMethod = this.recent.get(path);
    const known = byMethod?.get(method);
    if (known !== undefined) return known;
    const found = this.find(method, path);
    if (found.found === 'route' && !found.entry.isStatic) {
      if (byMethod === undefined) {
        if (this.recent.size >= RECENT_PATHS) this.recent.clear();
        this.recent.set(path, (byMethod = new Map()));
      }
      // Shared by every request for this path: nobody may change it.
      Object.freeze(found.params);
      byMethod.set(method, found);
    }
    return found;
  }

  private find(method: string, path: string): Lookup<A> {
    // The first route of this method whose path matches wins (declaration order: a
    // more particular path, `…/{MediaSid}.json`, is declared before `…/{MediaSid}`).
    const seen: TableEntry<A>[] = [];
    for (const entry of this.byStaticPath.get(path) ?? []) {
      if (entry.route.method === method) return { found: 'route', entry, params: {} };
      seen.push(entry);
    }
    for (const entry of this.bySegments.get(segments(path)) ?? []) {
      const params = entry.match(path);
      if (!params) continue;
      if (entry.route.method === method) return { found: 'route', entry, params };
      seen.push(entry);
    }
    if (method === 'HEAD') {
      const get = seen.find((e) => e.route.method === 'GET');
      if (get) return { found: 'route', entry: get, params: get.match(path) || {} };
    }
    if (seen.length === 0) return { found: 'nothing' };
    const methods = new Set(seen.map((e) => e.route.method));
    if (methods.has('GET')) methods.add('HEAD');
    return { found: 'path', area: seen[0]!.area, allow: ORDER.filter((m) => methods.has(m)) };
  }

  /** every route, in the order they were added */
  entries(): readonly TableEntry<A>[] {
    return this.all;
  }
}

const ORDER: Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const RECENT_PATHS = 10_000;

/** How many segments `split('/')` would give, without making them. */
function segments(path: string): number {
  let n = 1;
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) n++;
  return n;
}
const literalLength = (path: string) => path.replace(/\{[A-Za-z]+\}/g, '').length;

/** A malformed escape (`%ZZ`) names nothing: it is kept as sent, and no id will match it. */
function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
