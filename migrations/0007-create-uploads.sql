-- Direct uploads: the client PUTs the bytes straight to the store with a URL signed for
-- exactly the declared size and type, then asks the service to complete it. The media's
-- sid and object key are chosen when the upload begins; completion inserts the media row
-- (requires_auth read from the switch in that statement, as for an upload through the
-- service) and remembers it, so completing again answers the same media.
CREATE TABLE uploads (
  upload_id      text PRIMARY KEY CHECK (upload_id ~ '^UP[0-9a-f]{32}$'),
  account_sid    text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  media_sid      text NOT NULL UNIQUE CHECK (media_sid ~ '^ME[0-9a-f]{32}$'),
  object_key     text NOT NULL UNIQUE,
  kind           text NOT NULL CHECK (kind IN ('message', 'recording', 'fax')),
  content_type   text NOT NULL,
  size_bytes     bigint NOT NULL CHECK (size_bytes > 0),
  filename       text,
  sha256         text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  application_id uuid,
  url_expires_at timestamptz NOT NULL,
  completed_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
-- gc looks for uploads never completed whose URL has expired.
CREATE INDEX uploads_pending_idx ON uploads (url_expires_at) WHERE completed_at IS NULL;

-- A media that came by direct upload without a sha256 has none: the service never saw
-- its bytes.
ALTER TABLE media ALTER COLUMN sha256 DROP NOT NULL;
