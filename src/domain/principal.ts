// Who a request is authenticated as: its own module, since both credentials and
// applications speak of it (one would otherwise import the other both ways).
export type CredentialType = 'auth_token' | 'api_key' | 'application';

/** Who a request is authenticated as. */
export interface Principal {
  accountSid: string;
  type: CredentialType;
  /** the account sid (auth token), key sid (API key) or application id (JWT); never a secret */
  credentialSid: string;
}
