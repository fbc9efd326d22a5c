import Router from '@koa/router';
import { z } from 'zod';
import type { Db } from '../../db/pool.js';
import type { LocalInvalidation } from '../../domain/invalidation.js';
import {
  getProtection,
  getRetention,
  MEDIA_KINDS,
  protectExisting,
  setProtection,
  setRetention,
  type ProtectionState,
} from '../../domain/protection.js';
import { requireAccountOwner } from '../auth.js';
import { readJsonBody } from '../input.js';

export const protectionPatch = z
  .strictObject({ message: z.boolean().optional(), recording: z.boolean().optional(), fax: z.boolean().optional() })
  .refine((b) => Object.keys(b).length > 0, 'name at least one of message, recording, fax');

export const protectExistingBody = z.strictObject({ kind: z.enum(MEDIA_KINDS as [string, ...string[]]) });

export const retentionBody = z.strictObject({
  days: z.number().int().min(1).max(36_500).nullable(),
});


function protectionJson(state: ProtectionState) {
  return Object.fromEntries(
    MEDIA_KINDS.map((k) => [k, { enabled: state[k].enabled, changed_at: state[k].changed_at?.toISOString() ?? null }]),
  );
}

export function settingsRoutes(router: Router, deps: { db: Db; invalidate: LocalInvalidation }): void {
  const { db } = deps;
  const base = '/v1/accounts/:accountSid';

  router.get(`${base}/settings/media-protection`, requireAccountOwner, async (ctx) => {
    ctx.body = protectionJson(await getProtection(db, ctx.params.accountSid!));
  });

  router.patch(`${base}/settings/media-protection`, requireAccountOwner, async (ctx) => {
    const changes = await readJsonBody(ctx, protectionPatch);
    ctx.body = protectionJson(await setProtection(deps, ctx.params.accountSid!, changes));
  });

  router.post(`${base}/settings/media-protection/protect-existing`, requireAccountOwner, async (ctx) => {
    const { kind } = await readJsonBody(ctx, protectExistingBody);
    ctx.body = { protected: await protectExisting(deps, ctx.params.accountSid!, kind as (typeof MEDIA_KINDS)[number]) };
  });

  router.get(`${base}/settings/retention`, requireAccountOwner, async (ctx) => {
    ctx.body = { days: await getRetention(db, ctx.params.accountSid!) };
  });

  router.patch(`${base}/settings/retention`, requireAccountOwner, async (ctx) => {
    const { days } = await readJsonBody(ctx, retentionBody);
    await setRetention(deps, ctx.params.accountSid!, days);
    ctx.body = { days };
  });
}
