-- Data snapshots: compressed tar archives of named volumes, kept in files beside the database.
-- The store holds what each archive must hash to, so a changed archive is refused.

CREATE TABLE snapshots (
    id               INTEGER PRIMARY KEY,
    environment_id   INTEGER NOT NULL REFERENCES environments(id),
    name             TEXT NOT NULL,
    -- The revision that was applied when the snapshot was taken: rollback --with-data finds it here.
    revision_number  INTEGER,
    created_at       TEXT NOT NULL,
    UNIQUE (environment_id, name)
);

CREATE TABLE snapshot_volumes (
    snapshot_id  INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    -- The volume's name in the environment file, not the engine's name.
    volume       TEXT NOT NULL,
    -- Relative to the snapshots folder beside the database.
    archive      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, volume)
);
