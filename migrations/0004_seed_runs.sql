-- The seed ledger: every run of every seed, with the checksum of its definition and files.

CREATE TABLE seed_runs (
    id               INTEGER PRIMARY KEY,
    environment_id   INTEGER NOT NULL REFERENCES environments(id),
    seed             TEXT NOT NULL,
    checksum         TEXT NOT NULL,
    revision_number  INTEGER,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    -- 'running' until the run ends: a crash leaves it unfinished, never done.
    status           TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    duration_ms      INTEGER,
    output_tail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX seed_runs_by_seed ON seed_runs (environment_id, seed, id);
