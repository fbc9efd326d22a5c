CREATE TABLE api_keys (
  sid         text PRIMARY KEY CHECK (sid ~ '^SK[0-9a-f]{32}$'),
  account_sid text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  name        text NOT NULL,
  secret_hash bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account_idx ON api_keys (account_sid, created_at DESC);

CREATE TABLE applications (
  application_id uuid PRIMARY KEY,
  account_sid    text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  name           text NOT NULL,
  public_key     text NOT NULL,
  algorithm      text NOT NULL CHECK (algorithm IN ('RS256', 'EdDSA')),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_account_idx ON applications (account_sid, created_at DESC);

-- Credential and setting changes, shown to the account owner newest first.
CREATE TABLE account_events (
  id          bigserial PRIMARY KEY,
  account_sid text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  type        text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_events_account_idx ON account_events (account_sid, id DESC);
