import { commitWithInvalidation, type InvalidationDeps } from './invalidation.js';
import { deleteSecondaryToken as deleteSecondaryRow, promoteSecondaryToken, upsertAuthToken } from '../db/queries/accounts.js';
import { deleteAccountConsoleSessions } from '../db/queries/console-sessions.js';
import { insertEvent } from '../db/queries/events.js';
import { Conflict, NotFound } from './errors.js';
import { newSecret } from './ids.js';
import { hashSecret } from './secrets.js';

/** A new secondary token (replacing any previous one); both tokens work until a promote. */
export async function createSecondaryToken(deps: InvalidationDeps, accountSid: string): Promise<string> {
  const token = newSecret();
  // Announced: a replaced secondary must stop working too.
  await commitWithInvalidation(deps, { kind: 'credentials', accountSid }, async (tx) => {
    await upsertAuthToken(tx, accountSid, 'secondary', hashSecret(token));
    await deleteAccountConsoleSessions(tx, accountSid, 'secondary'); // opened with the replaced one
    await insertEvent(tx, accountSid, 'auth_token.secondary_created');
  });
  return token;
}

/** The secondary becomes primary; the old primary fails from the commit on, everywhere. */
export async function promoteSecondary(deps: InvalidationDeps, accountSid: string): Promise<void> {
  await commitWithInvalidation(deps, { kind: 'credentials', accountSid }, async (tx) => {
    if (!(await promoteSecondaryToken(tx, accountSid))) throw new Conflict('there is no secondary auth token to promote');
    // Every console session ends: the owner signs in again with the token now in force.
    await deleteAccountConsoleSessions(tx, accountSid);
    await insertEvent(tx, accountSid, 'auth_token.promoted');
  });
}

export async function deleteSecondary(deps: InvalidationDeps, accountSid: string): Promise<void> {
  await commitWithInvalidation(deps, { kind: 'credentials', accountSid }, async (tx) => {
    if (!(await deleteSecondaryRow(tx, accountSid))) throw new NotFound('there is no secondary auth token');
    await deleteAccountConsoleSessions(tx, accountSid, 'secondary');
    await insertEvent(tx, accountSid, 'auth_token.secondary_deleted');
  });
}
