-- What git keeps in its index, for build contexts: each file's size, modification time, inode
-- and digest, so an apply reads and hashes only the files that changed. One row per context
-- folder (its real path); the entries are one blob, read and written whole, because a
-- monorepo's context has tens of thousands of files and every apply needs all of them.
-- indexed_at (nanoseconds since 1970) is when the digests were taken: a file modified close to
-- it is hashed again.

CREATE TABLE build_context_index (
    context     TEXT PRIMARY KEY,
    entries     BLOB NOT NULL,
    indexed_at  INTEGER NOT NULL
);
