-- A restore in progress. It is written before a volume is emptied and removed once the archives
-- are back in, so a restore cut short is finished by the next apply instead of leaving empty data.

CREATE TABLE pending_restores (
    environment_id  INTEGER PRIMARY KEY REFERENCES environments(id),
    -- What is being restored, for messages: a snapshot name or a seed's archive.
    label           TEXT NOT NULL,
    -- JSON: [{"volume", "path", "sha256"}], absolute archive paths.
    sources         TEXT NOT NULL,
    started_at      TEXT NOT NULL
);
