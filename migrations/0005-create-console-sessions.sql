-- Sessions of the owner's console: the cookie holds a random id, the table only its
-- SHA-256. A session remembers which auth token slot signed it in, so that replacing
-- or deleting the secondary token ends the sessions it opened, and a promotion ends all.
CREATE TABLE console_sessions (
  id_hash     bytea PRIMARY KEY,
  account_sid text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  token_slot  text NOT NULL CHECK (token_slot IN ('primary', 'secondary')),
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_account_idx ON console_sessions (account_sid);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);
