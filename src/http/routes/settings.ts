import { z } from 'zod';
import { MEDIA_KINDS } from '../../domain/media-kinds.js';
import { getProtection, getRetention, protectExisting, setProtection, setRetention, type ProtectionState } from '../../domain/protection.js';
import { route } from '../route.js';
import type { ApiDeps } from './api-deps.js';

const protectionPatch = z
  .strictObject(Object.fromEntries(MEDIA_KINDS.map((k) => [k, z.boolean().optional()])) as Record<(typeof MEDIA_KINDS)[number], z.ZodOptional<z.ZodBoolean>>)
  .refine((b) => Object.keys(b).length > 0, `name at least one of ${MEDIA_KINDS.join(', ')}`)
  // What the refinement checks, for the reference (z.toJSONSchema cannot see into it).
  .meta({ minProperties: 1 });

const protectExistingBody = z.strictObject({ kind: z.enum(MEDIA_KINDS) });

const retentionBody = z.strictObject({ days: z.number().int().min(1).max(36_500).nullable() });

/** The schema `MediaProtection` of schemas.ts. */
function protectionJson(state: ProtectionState) {
  return Object.fromEntries(MEDIA_KINDS.map((k) => [k, { enabled: state[k].enabled, changed_at: state[k].changedAt?.toISOString() ?? null }]));
}

/** Protection switches and retention: the account's auth token only. */
export const settingsRoutes = () => [
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/settings/media-protection',
    operationId: 'getMediaProtection',
    tag: 'Settings',
    summary: 'The protection switch of each media kind',
    auth: 'owner',
    answers: { 200: { description: 'The switches.', schema: 'MediaProtection' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      ctx.body = protectionJson(await getProtection(deps.db, params.accountSid!));
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/accounts/{AccountSid}/settings/media-protection',
    operationId: 'updateMediaProtection',
    tag: 'Settings',
    summary: 'Switch protection per kind',
    description:
      'Effective at once, on every instance. Media created from then on records the new state; media created before keeps its own (legacy media stays public; use protect-existing).',
    auth: 'owner',
    body: { json: protectionPatch, example: { message: true, fax: false }, description: `At least one of ${MEDIA_KINDS.join(', ')}.` },
    answers: { 200: { description: 'The new state.', schema: 'MediaProtection' } },
    errors: ['not_found'],
    async handle(ctx, { params, body }, deps: ApiDeps) {
      ctx.body = protectionJson(await setProtection(deps, params.accountSid!, await body()));
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/settings/media-protection/protect-existing',
    operationId: 'protectExistingMedia',
    tag: 'Settings',
    summary: 'Protect all existing media of a kind',
    auth: 'owner',
    body: { json: protectExistingBody, example: { kind: 'message' } },
    answers: { 200: { description: 'How many media items changed.', schema: 'ProtectExistingResult' } },
    async handle(ctx, { params, body }, deps: ApiDeps) {
      const { kind } = await body();
      ctx.body = { protected: await protectExisting(deps, params.accountSid!, kind) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/settings/retention',
    operationId: 'getRetention',
    tag: 'Settings',
    summary: 'How long media is kept',
    auth: 'owner',
    answers: { 200: { description: 'The retention.', schema: 'Retention' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      ctx.body = { days: await getRetention(deps.db, params.accountSid!) };
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/accounts/{AccountSid}/settings/retention',
    operationId: 'updateRetention',
    tag: 'Settings',
    summary: 'Set how long media is kept',
    description:
      '`null`: until deleted (the default); a number of days (1 to 36500): media expires that long after its creation (`mediagate sweep` deletes it; its URL answers 404 at once).',
    auth: 'owner',
    body: { json: retentionBody, example: { days: 90 } },
    answers: { 200: { description: 'The new retention.', schema: 'Retention' } },
    errors: ['not_found'],
    async handle(ctx, { params, body }, deps: ApiDeps) {
      const { days } = await body();
      await setRetention(deps, params.accountSid!, days);
      ctx.body = { days };
    },
  }),
];
