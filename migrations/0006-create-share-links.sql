-- Share links: capability URLs for one media item, for people and players that hold no
-- credentials. The token (in the URL) is stored only as its SHA-256; a link dies with its
-- media (the foreign key), with the key or application that created it (deleted with
-- them, in the same transaction), by its expiry, when its uses run out, or by DELETE.
CREATE TABLE share_links (
  sid             text PRIMARY KEY CHECK (sid ~ '^SL[0-9a-f]{32}$'),
  account_sid     text NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
  media_sid       text NOT NULL REFERENCES media (sid) ON DELETE CASCADE,
  token_hash      bytea NOT NULL UNIQUE,
  expires_at      timestamptz NOT NULL,
  max_uses        integer CHECK (max_uses BETWEEN 1 AND 1000000),
  uses            bigint NOT NULL DEFAULT 0,
  last_used_at    timestamptz,
  disposition     text NOT NULL CHECK (disposition IN ('inline', 'attachment')),
  label           text,
  -- the credential that created it: an account sid (auth token), a key sid or an application id
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX share_links_media_idx ON share_links (media_sid, created_at DESC, sid DESC);
CREATE INDEX share_links_account_idx ON share_links (account_sid, created_at DESC, sid DESC);
CREATE INDEX share_links_creator_idx ON share_links (created_by);
