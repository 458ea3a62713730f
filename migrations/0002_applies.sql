-- What was applied to the engine: one row per apply or controller pass that changed something.

CREATE TABLE applies (
    id               INTEGER PRIMARY KEY,
    environment_id   INTEGER NOT NULL REFERENCES environments(id),
    revision_number  INTEGER NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    outcome          TEXT NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'converged', 'failed')),
    -- JSON object: service name → image ID the container was created from.
    images           TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX applies_by_environment ON applies (environment_id, id);
