CREATE TABLE media (
  sid            text PRIMARY KEY CHECK (sid ~ '^ME[0-9a-f]{32}$'),
  account_sid    text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  kind           text NOT NULL CHECK (kind IN ('message', 'recording', 'fax')),
  content_type   text NOT NULL,
  size_bytes     bigint NOT NULL CHECK (size_bytes > 0),
  sha256         text NOT NULL,
  filename       text,
  object_key     text NOT NULL UNIQUE,
  requires_auth  boolean NOT NULL,
  application_id uuid,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Listing is newest first with keyset pagination on (created_at, sid).
CREATE INDEX media_account_created_idx ON media (account_sid, created_at DESC, sid DESC);
CREATE INDEX media_account_kind_created_idx ON media (account_sid, kind, created_at DESC, sid DESC);
