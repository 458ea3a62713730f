-- A no-op apply of a large build context should cost one walk of its metadata and nothing
-- more. fingerprint is the SHA-256 of what the walk saw (every kept path with its size,
-- modification time, inode and mode); digest is the context digest those files gave. When the
-- next walk has the same fingerprint and no file was modified close to indexed_at, the digest
-- is reused without reading the entries at all. Both are NULL for an index written before.

ALTER TABLE build_context_index ADD COLUMN fingerprint TEXT;
ALTER TABLE build_context_index ADD COLUMN digest TEXT;
