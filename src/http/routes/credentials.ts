import Router from '@koa/router';
import { z } from 'zod';
import type { Db } from '../../db/pool.js';
import { createApiKey, deleteApiKey, getApiKeys } from '../../domain/api-keys.js';
import { createApplication, deleteApplication, getApplications } from '../../domain/applications.js';
import { createSecondaryToken, deleteSecondary, promoteSecondary } from '../../domain/auth-tokens.js';
import type { ApplicationRow } from '../../db/queries/applications.js';
import { requireAccountOwner } from '../auth.js';
import type { LocalInvalidation } from '../../domain/invalidation.js';
import { readJsonBody } from '../input.js';

export const nameBody = z.strictObject({ name: z.string().min(1).max(200) });
export const applicationBody = z.strictObject({ name: z.string().min(1).max(200), public_key: z.string().min(1).max(16_384) });

const applicationJson = (a: ApplicationRow) => ({
  application_id: a.application_id,
  account_sid: a.account_sid,
  name: a.name,
  algorithm: a.algorithm,
  public_key: a.public_key,
  created_at: a.created_at.toISOString(),
});

/** Keys, auth tokens and applications: the account's auth token only (requireAccountOwner). */
export function credentialRoutes(router: Router, deps: { db: Db; invalidate: LocalInvalidation }): void {
  const { db } = deps;
  const base = '/v1/accounts/:accountSid';

  router.post(`${base}/keys`, requireAccountOwner, async (ctx) => {
    const { name } = await readJsonBody(ctx, nameBody);
    const key = await createApiKey(db, ctx.params.accountSid!, name);
    ctx.status = 201;
    ctx.body = { sid: key.sid, name: key.name, secret: key.secret, created_at: key.created_at.toISOString() };
  });

  router.get(`${base}/keys`, requireAccountOwner, async (ctx) => {
    const keys = await getApiKeys(db, ctx.params.accountSid!);
    ctx.body = { keys: keys.map((k) => ({ sid: k.sid, name: k.name, created_at: k.created_at.toISOString() })) };
  });

  router.delete(`${base}/keys/:keySid`, requireAccountOwner, async (ctx) => {
    await deleteApiKey(deps, ctx.params.accountSid!, ctx.params.keySid!);
    ctx.status = 204;
  });

  router.post(`${base}/auth-tokens/secondary`, requireAccountOwner, async (ctx) => {
    ctx.status = 201;
    ctx.body = { secondary_auth_token: await createSecondaryToken(deps, ctx.params.accountSid!) };
  });

  router.post(`${base}/auth-tokens/promote`, requireAccountOwner, async (ctx) => {
    await promoteSecondary(deps, ctx.params.accountSid!);
    ctx.body = { promoted: true };
  });

  router.delete(`${base}/auth-tokens/secondary`, requireAccountOwner, async (ctx) => {
    await deleteSecondary(deps, ctx.params.accountSid!);
    ctx.status = 204;
  });

  router.post(`${base}/applications`, requireAccountOwner, async (ctx) => {
    const body = await readJsonBody(ctx, applicationBody);
    ctx.status = 201;
    ctx.body = applicationJson(await createApplication(db, ctx.params.accountSid!, body.name, body.public_key));
  });

  router.get(`${base}/applications`, requireAccountOwner, async (ctx) => {
    ctx.body = { applications: (await getApplications(db, ctx.params.accountSid!)).map(applicationJson) };
  });

  router.delete(`${base}/applications/:applicationId`, requireAccountOwner, async (ctx) => {
    await deleteApplication(deps, ctx.params.accountSid!, ctx.params.applicationId!);
    ctx.status = 204;
  });
}
