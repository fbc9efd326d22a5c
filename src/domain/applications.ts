import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { withTransaction, type Db } from '../db/pool.js';
import {
  deleteApplication as deleteApplicationRow,
  findApplication,
  findApplicationById,
  insertApplication,
  countApplications,
  listApplications,
  type ApplicationRow,
} from '../db/queries/applications.js';
import { assertRoomForOneMore } from './account-caps.js';
import { decodePageToken, pageOf, type PageRequest } from './paging.js';
import type { Principal } from './principal.js';
import { insertEvent } from '../db/queries/events.js';
import { deleteShareLinksCreatedBy } from '../db/queries/share-links.js';
import { validateName } from './accounts.js';
import { Forbidden, InvalidRequest, NotFound } from './errors.js';
import { normalizeApplicationId } from './ids.js';
import { commitWithInvalidation, type InvalidationDeps } from './invalidation.js';

export type JwtAlgorithm = 'RS256' | 'EdDSA';

/** An application: its JWTs, signed with its private key, authenticate as its account. */
export interface Application {
  applicationId: string;
  accountSid: string;
  name: string;
  /** PEM (SPKI) */
  publicKey: string;
  algorithm: JwtAlgorithm;
  createdAt: Date;
}

function applicationFromRow(row: ApplicationRow): Application {
  return {
    applicationId: row.application_id,
    accountSid: row.account_sid,
    name: row.name,
    publicKey: row.public_key,
    algorithm: row.algorithm as JwtAlgorithm, // the column's CHECK holds the same two
    createdAt: row.created_at,
  };
}

/** RS256 for RSA keys of at least 2048 bits, EdDSA for Ed25519; anything else is refused. */
export function algorithmFor(publicKeyPem: string): { algorithm: JwtAlgorithm; pem: string } {
  if (!/^-----BEGIN (RSA )?PUBLIC KEY-----/.test(publicKeyPem.trim())) {
    throw new InvalidRequest('public_key must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch {
    throw new InvalidRequest('public_key is not a valid PEM public key');
  }
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  if (key.asymmetricKeyType === 'ed25519') return { algorithm: 'EdDSA', pem };
  if (key.asymmetricKeyType === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new InvalidRequest('RSA keys must have at least 2048 bits');
    return { algorithm: 'RS256', pem };
  }
  throw new InvalidRequest('public_key must be an RSA (RS256) or Ed25519 (EdDSA) key');
}

/** At most `maxApplications` per account (APPLICATIONS_PER_ACCOUNT): 409 past it. */
export async function createApplication(db: Db, accountSid: string, name: string, publicKeyPem: string, maxApplications: number): Promise<Application> {
  const validName = validateName(name);
  const { algorithm, pem } = algorithmFor(publicKeyPem);
  return withTransaction(db, async (tx) => {
    await assertRoomForOneMore(tx, accountSid, { what: 'applications', setting: 'APPLICATIONS_PER_ACCOUNT', max: maxApplications, count: countApplications });
    const app = await insertApplication(tx, {
      application_id: randomUUID(),
      account_sid: accountSid,
      name: validName,
      public_key: pem,
      algorithm,
    });
    await insertEvent(tx, accountSid, 'application.created', { application_id: app.application_id, algorithm });
    return applicationFromRow(app);
  });
}

/** An upload naming application_id: the application must be the account's, and an application uploads for itself only. */
export async function checkUploadApplication(
  db: Db,
  accountSid: string,
  applicationId: string,
  principal: Principal | undefined,
): Promise<void> {
  if (principal?.type === 'application' && principal.credentialSid !== applicationId) {
    throw new Forbidden('an application can only upload media for itself');
  }
  if (!(await findApplication(db, accountSid, applicationId))) {
    throw new InvalidRequest('application_id names no application of this account');
  }
}

/** The account's applications, newest first, a page at a time. */
export async function getApplications(db: Db, accountSid: string, paging: PageRequest): Promise<{ applications: Application[]; nextPageToken: string | null }> {
  const after = paging.pageToken === undefined ? undefined : decodePageToken(paging.pageToken, (id) => normalizeApplicationId(id) === id);
  const rows = await listApplications(db, accountSid, after, paging.pageSize + 1);
  const { page, nextPageToken } = pageOf(rows, paging.pageSize, (row) => row.application_id);
  return { applications: page.map(applicationFromRow), nextPageToken };
}

/** The application an id names, of any account (to verify its JWTs), or undefined. */
export async function findApplicationForJwt(db: Db, applicationId: string): Promise<Application | undefined> {
  const row = await findApplicationById(db, applicationId);
  return row && applicationFromRow(row);
}

/**
 * Revokes an application: its JWTs and the share links it created fail from the commit
 * on, on every instance. Media bound to it keeps its application_id, so no other
 * application's JWT can reach it, while the account's token and keys still can.
 */
export async function deleteApplication(deps: InvalidationDeps, accountSid: string, applicationId: string): Promise<void> {
  const id = normalizeApplicationId(applicationId);
  if (!id) throw new NotFound('no such application');
  await commitWithInvalidation(deps, { kind: 'credentials', accountSid }, async (tx) => {
    if (!(await deleteApplicationRow(tx, accountSid, id))) throw new NotFound('no such application');
    const links = await deleteShareLinksCreatedBy(tx, accountSid, id);
    await insertEvent(tx, accountSid, 'application.deleted', { application_id: id, ...(links > 0 && { share_links_deleted: links }) });
  });
}
