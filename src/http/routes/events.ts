import { z } from 'zod';
import { listAccountEvents } from '../../domain/events.js';
import { absentIfEmpty, pageSize, pagingNotes } from '../input.js';
import { route } from '../route.js';
import type { ApiDeps } from './api-deps.js';

const eventsQuery = z.object({
  page_size: z.preprocess(absentIfEmpty, pageSize),
  page_token: z.preprocess(absentIfEmpty, z.string().regex(/^\d{1,19}$/, 'is not valid').optional()),
});

/** Recent credential and setting changes, newest first: the account's auth token only. */
export const eventRoutes = () => [
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/events',
    operationId: 'listEvents',
    tag: 'Events',
    summary: 'Recent credential and setting changes, newest first',
    auth: 'owner',
    query: eventsQuery,
    queryNotes: pagingNotes('events'),
    answers: { 200: { description: 'A page of events.', schema: 'AccountEventList' } },
    errors: ['invalid_request'],
    async handle(ctx, { params, query }, deps: ApiDeps) {
      const q = query();
      const { events, nextPageToken } = await listAccountEvents(deps.db, params.accountSid!, q.page_size, q.page_token);
      ctx.body = {
        events: events.map((e) => ({ id: e.id, type: e.type, detail: e.detail, created_at: e.createdAt.toISOString() })),
        next_page_token: nextPageToken,
      };
    },
  }),
];
