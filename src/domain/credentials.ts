import type { Db } from '../db/pool.js';
import { findAuthTokens } from '../db/queries/accounts.js';
import { findApiKeySecret } from '../db/queries/keys.js';
import { parseAuthorization } from './authorization-header.js';
import { Forbidden, InvalidCredentials } from './errors.js';
import { isSid } from './ids.js';
import { digestsEqual, hashSecret } from './secrets.js';

export type CredentialType = 'auth_token' | 'api_key' | 'application';

/** Who a request is authenticated as. */
export interface Principal {
  accountSid: string;
  type: CredentialType;
  /** the account sid (auth token), key sid (API key) or application id (JWT); never a secret */
  credentialSid: string;
}

export interface Authenticator {
  /** undefined when there is no Authorization header; InvalidCredentials when it is bad */
  authenticate(header: string | undefined): Promise<Principal | undefined>;
}

// A digest to compare against when the sid is unknown, so that an unknown sid and a
// wrong secret take the same work.
const NO_MATCH = hashSecret('no such credential');

export function createAuthenticator(deps: { db: Db }): Authenticator {
  const { db } = deps;

  async function verifyBasic(username: string, password: string): Promise<Principal> {
    const presented = hashSecret(password);
    if (isSid(username, 'AC')) {
      const tokens = await findAuthTokens(db, username);
      let ok = false;
      for (const t of tokens) ok = digestsEqual(presented, t.token_hash) || ok;
      if (tokens.length === 0) digestsEqual(presented, NO_MATCH);
      if (ok) return { accountSid: username, type: 'auth_token', credentialSid: username };
    } else if (isSid(username, 'SK')) {
      const key = await findApiKeySecret(db, username);
      const ok = digestsEqual(presented, key?.secret_hash ?? NO_MATCH) && key !== undefined;
      if (ok) return { accountSid: key.account_sid, type: 'api_key', credentialSid: username };
    }
    throw new InvalidCredentials('invalid credentials');
  }

  return {
    async authenticate(header) {
      if (header === undefined) return undefined;
      const parsed = parseAuthorization(header);
      if (parsed.scheme === 'basic') return verifyBasic(parsed.username, parsed.password);
      // TODO(#4): Bearer JWTs of registered applications.
      throw new InvalidCredentials('bearer tokens are not accepted yet');
    },
  };
}

/** 403 for valid credentials of another account, decided before any lookup. */
export function assertSameAccount(principal: Principal, accountSid: string): void {
  if (principal.accountSid !== accountSid) {
    throw new Forbidden('these credentials belong to another account');
  }
}

/** Settings, keys, tokens and applications are the owner's: the auth token only. */
export function assertAccountOwner(principal: Principal): void {
  if (principal.type !== 'auth_token') {
    throw new Forbidden("this needs the account's auth token; API keys and applications cannot manage the account");
  }
}
