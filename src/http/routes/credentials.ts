import { z } from 'zod';
import { createApiKey, deleteApiKey, getApiKeys } from '../../domain/api-keys.js';
import { createApplication, deleteApplication, getApplications, type Application } from '../../domain/applications.js';
import { createSecondaryToken, deleteSecondary, promoteSecondary } from '../../domain/auth-tokens.js';
import { pagingNotes, pagingQuery } from '../input.js';
import { route } from '../route.js';
import { NAME_NOTE, NAME_PATTERN } from '../schemas.js';
import type { ApiDeps } from './api-deps.js';

const listQuery = z.object(pagingQuery);
// The pattern is the reference's account of what createApiKey and createApplication check (validateName).
const name = z.string().min(1).max(200).meta({ description: `for people: ${NAME_NOTE}`, pattern: NAME_PATTERN });
const nameBody = z.strictObject({ name });
const applicationBody = z.strictObject({
  name,
  public_key: z
    .string()
    .min(1)
    .max(16_384)
    .meta({ description: 'PEM (SPKI, `-----BEGIN PUBLIC KEY-----`): RSA of at least 2048 bits, or Ed25519; anything else is 400' }),
});

/** The schema `Application` of schemas.ts. */
const applicationJson = (a: Application) => ({
  application_id: a.applicationId,
  account_sid: a.accountSid,
  name: a.name,
  algorithm: a.algorithm,
  public_key: a.publicKey,
  created_at: a.createdAt.toISOString(),
});

/** Keys, auth tokens and applications: the account's auth token only. */
export const credentialRoutes = () => [
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/keys',
    operationId: 'createApiKey',
    tag: 'Credentials',
    summary: 'Create an API key',
    description: 'The secret is shown once. `ApiKeySid:ApiKeySecret` then works as Basic credentials of the account (media API and media URLs).',
    auth: 'owner',
    body: { json: nameBody, example: { name: 'webhooks' } },
    answers: { 201: { description: 'The key, with its secret.', schema: 'ApiKeyCreated' } },
    errors: ['conflict'],
    async handle(ctx, { params, body }, deps: ApiDeps) {
      const { name } = await body();
      const key = await createApiKey(deps.db, params.accountSid!, name, deps.caps.apiKeys);
      ctx.status = 201;
      ctx.body = { sid: key.sid, name: key.name, secret: key.secret, created_at: key.createdAt.toISOString() };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/keys',
    operationId: 'listApiKeys',
    tag: 'Credentials',
    summary: 'List API keys (without secrets)',
    description: 'Newest first. Paged: pass `next_page_token` back as `page_token` until it is null.',
    auth: 'owner',
    query: listQuery,
    queryNotes: pagingNotes('keys'),
    answers: { 200: { description: 'A page of keys.', schema: 'ApiKeyList' } },
    errors: ['invalid_request'],
    async handle(ctx, { params, query }, deps: ApiDeps) {
      const q = query();
      const { keys, nextPageToken } = await getApiKeys(deps.db, params.accountSid!, { pageSize: q.page_size, pageToken: q.page_token });
      ctx.body = { keys: keys.map((k) => ({ sid: k.sid, name: k.name, created_at: k.createdAt.toISOString() })), next_page_token: nextPageToken };
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/accounts/{AccountSid}/keys/{KeySid}',
    operationId: 'deleteApiKey',
    tag: 'Credentials',
    summary: 'Delete an API key',
    description: 'The key fails from then on, on every instance.',
    auth: 'owner',
    answers: { 204: { description: 'Deleted.' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      await deleteApiKey(deps, params.accountSid!, params.keySid!);
      ctx.status = 204;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/auth-tokens/secondary',
    operationId: 'createSecondaryAuthToken',
    tag: 'Credentials',
    summary: 'Create (or replace) the secondary auth token',
    description: 'Both tokens work until the secondary is promoted or deleted. Shown once.',
    auth: 'owner',
    answers: { 201: { description: 'The secondary token.', schema: 'SecondaryAuthToken' } },
    async handle(ctx, { params }, deps: ApiDeps) {
      ctx.status = 201;
      ctx.body = { secondary_auth_token: await createSecondaryToken(deps, params.accountSid!) };
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/accounts/{AccountSid}/auth-tokens/secondary',
    operationId: 'deleteSecondaryAuthToken',
    tag: 'Credentials',
    summary: 'Delete the secondary auth token',
    auth: 'owner',
    answers: { 204: { description: 'Deleted.' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      await deleteSecondary(deps, params.accountSid!);
      ctx.status = 204;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/auth-tokens/promote',
    operationId: 'promoteSecondaryAuthToken',
    tag: 'Credentials',
    summary: 'Promote the secondary auth token',
    description: 'The secondary becomes the primary; the old primary fails from then on, on every instance (and console sessions end).',
    auth: 'owner',
    answers: { 200: { description: 'Promoted.', schema: 'Promoted' } },
    errors: ['conflict'],
    async handle(ctx, { params }, deps: ApiDeps) {
      await promoteSecondary(deps, params.accountSid!);
      ctx.body = { promoted: true };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts/{AccountSid}/applications',
    operationId: 'createApplication',
    tag: 'Credentials',
    summary: 'Register an application (a public key for JWTs)',
    description:
      'An RSA (≥ 2048 bits, RS256) or Ed25519 (EdDSA) public key in PEM. `Authorization: Bearer <jwt>` signed with its private key, with claims `application_id`, `iat`, `exp` (at most 24 h after `iat`) and `jti`, then authenticates as the account.',
    auth: 'owner',
    body: { json: applicationBody, example: { name: 'voice', public_key: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA…\n-----END PUBLIC KEY-----\n' } },
    answers: { 201: { description: 'The application.', schema: 'Application' } },
    errors: ['conflict'],
    async handle(ctx, { params, body }, deps: ApiDeps) {
      const { name, public_key: publicKey } = await body();
      ctx.status = 201;
      ctx.body = applicationJson(await createApplication(deps.db, params.accountSid!, name, publicKey, deps.caps.applications));
    },
  }),
  route({
    method: 'GET',
    path: '/v1/accounts/{AccountSid}/applications',
    operationId: 'listApplications',
    tag: 'Credentials',
    summary: 'List applications',
    description: 'Newest first. Paged: pass `next_page_token` back as `page_token` until it is null.',
    auth: 'owner',
    query: listQuery,
    queryNotes: pagingNotes('applications'),
    answers: { 200: { description: 'A page of applications.', schema: 'ApplicationList' } },
    errors: ['invalid_request'],
    async handle(ctx, { params, query }, deps: ApiDeps) {
      const q = query();
      const { applications, nextPageToken } = await getApplications(deps.db, params.accountSid!, { pageSize: q.page_size, pageToken: q.page_token });
      ctx.body = { applications: applications.map(applicationJson), next_page_token: nextPageToken };
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/accounts/{AccountSid}/applications/{ApplicationId}',
    operationId: 'deleteApplication',
    tag: 'Credentials',
    summary: 'Delete an application',
    description: "Its JWTs fail at once, on every instance; media bound to it stays reachable with the account's token and keys.",
    auth: 'owner',
    answers: { 204: { description: 'Deleted.' } },
    errors: ['not_found'],
    async handle(ctx, { params }, deps: ApiDeps) {
      await deleteApplication(deps, params.accountSid!, params.applicationId!);
      ctx.status = 204;
    },
  }),
];
