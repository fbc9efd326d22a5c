-- Accounts and their auth tokens. Tokens are 128-bit random, so a SHA-256 digest is
-- enough to make a stolen table useless; a slow KDF would only slow the hot path.
CREATE TABLE accounts (
  sid            text PRIMARY KEY CHECK (sid ~ '^AC[0-9a-f]{32}$'),
  name           text NOT NULL,
  retention_days integer CHECK (retention_days > 0),
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_tokens (
  account_sid text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  slot        text NOT NULL CHECK (slot IN ('primary', 'secondary')),
  token_hash  bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_sid, slot)
);

-- One switch per account and kind; a row for each kind exists from the account's
-- creation, so an upload can lock it (FOR SHARE) while it stamps requires_auth.
CREATE TABLE media_protection (
  account_sid text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('message', 'recording', 'fax')),
  enabled     boolean NOT NULL DEFAULT false,
  changed_at  timestamptz,
  PRIMARY KEY (account_sid, kind)
);
