import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import pino, { type Logger } from 'pino';
import type { LogAccess } from '../config.js';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const INFO = 30;
const json = JSON.stringify;

// Request ids: this process's random prefix (64 bits, so instances and restarts never
// share one) and a counter, both in base 36: unique without a UUID's random bytes and
// formatting per request, and 14 to 20 characters instead of 36.
const ID_PREFIX = `${randomBytes(8).readBigUInt64BE().toString(36).padStart(13, '0')}-`;
let idCounter = 0;

/** The request's own X-Request-Id when it is sane, else a new one; echoed in the answer. */
export function requestIdOf(ctx: Context): string {
  const given = ctx.req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : ID_PREFIX + (++idCounter).toString(36);
}

// What a route's path parameters are called in the line; a share link's token never is.
const PARAM_FIELDS: Record<string, string> = {
  accountSid: 'account',
  mediaSid: 'media',
  keySid: 'key',
  applicationId: 'application',
  shareLinkSid: 'share_link',
  uploadId: 'upload',
  file: 'file',
};

/** What the line says of the route a request reached. */
export interface LoggedRoute {
  /** the metrics' label: `/v1/accounts/:accountSid/media/:mediaSid` */
  label: string;
  /** the line's: the operation's id, which names the method too (`getMediaUrl`) */
  operationId: string;
}

/**
 * One JSON line per request, and the request's metrics. pino's format (level, time,
 * fields, msg), written to the logger's own destination but built here from a fixed
 * template: pino's generic serializer cost ~9 µs of the redirect's ~150 (profiled).
 * Each fact once, for audit: the request id, the operation (which names the method),
 * the path's ids (never a share link's token), status, duration, client, credential
 * (`token` for the path account's own auth token, whose sid the account field already
 * says; a key's sid; an application's id; absent when none was sent), error, and the
 * route's own fields (a media URL's outcome). The query string is never logged: signed
 * URLs carry their signature there. ~300 bytes for a redirect, 540 before.
 */
export function accessLog(log: Logger, metrics: Metrics, which: LogAccess = 'all') {
  const destination = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  const head = `{"level":${INFO},"time":`;
  return function logRequest(ctx: Context, route: LoggedRoute | undefined, params: Record<string, string>, startedNs: bigint, redactPath = false): void {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    const method = ctx.method;
    const status = ctx.status;
    metrics.http.record(method, route?.label ?? 'unmatched', status, seconds);
    if (which === 'off' || (which === 'errors' && status < 400) || !log.isLevelEnabled('info')) return;
    let line = `${head}${Date.now()},"request_id":${json(ctx.state.requestId)}`;
    if (route) {
      line += `,"route":"${route.operationId}"`;
      for (const name in params) {
        const field = PARAM_FIELDS[name];
        if (field !== undefined) line += `,"${field}":${json(params[name])}`;
      }
    } else {
      // An area whose paths are secrets (share links) names none, even unmatched.
      const path = redactPath ? '(not logged)' : ctx.path;
      line += `,"route":"unmatched","method":${json(method)},"path":${json(path.length > 200 ? `${path.slice(0, 200)}…` : path)}`;
    }
    line += `,"status":${status},"ms":${Math.round(seconds * 1e6) / 1e3},"client":${json(ctx.ip)}`;
    const principal = ctx.state.principal as { type: string; credentialSid: string } | undefined;
    if (principal) {
      const own = principal.type === 'auth_token' && principal.credentialSid === params.accountSid;
      line += own ? ',"credential":"token"' : `,"credential":${json(principal.credentialSid)}`;
    }
    const errorCode = ctx.state.errorCode as string | undefined;
    if (errorCode !== undefined) line += `,"error":${json(errorCode)}`;
    if (ctx.state.errorCause !== undefined) line += `,"error_cause":${json(ctx.state.errorCause)}`;
    const extra = ctx.state.logFields as Record<string, unknown> | undefined;
    if (extra) for (const key in extra) if (extra[key] !== undefined) line += `,"${key}":${json(extra[key])}`;
    destination.write(`${line},"msg":"request"}\n`);
  };
}
