-- `mediagate gc` walks the bucket's listing (byte order, as S3 lists keys) and the
-- media rows side by side; this index gives the rows in the same byte order.
CREATE INDEX media_object_key_bytewise_idx ON media (object_key COLLATE "C");
