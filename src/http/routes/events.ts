import type Router from '@koa/router';
import { z } from 'zod';
import type { Db } from '../../db/pool.js';
import { listAccountEvents } from '../../domain/events.js';
import { requireAccountOwner } from '../auth.js';
import { absentIfEmpty, pageSize, readQuery } from '../input.js';

export const eventsQuery = z.object({
  page_size: z.preprocess(absentIfEmpty, pageSize(1000, 50)),
  page_token: z.preprocess(absentIfEmpty, z.string().regex(/^\d{1,19}$/, 'is not valid').optional()),
});

/** Recent credential and setting changes, newest first: the account's auth token only. */
export function eventRoutes(router: Router, deps: { db: Db }): void {
  router.get('/v1/accounts/:accountSid/events', requireAccountOwner, async (ctx) => {
    const q = readQuery(ctx, eventsQuery);
    const { events, nextPageToken } = await listAccountEvents(deps.db, ctx.params.accountSid!, q.page_size, q.page_token);
    ctx.body = {
      events: events.map((e) => ({ id: e.id, type: e.type, detail: e.detail, created_at: e.created_at.toISOString() })),
      next_page_token: nextPageToken,
    };
  });
}
