-- A single-writer lease per environment, and the controller's per-service conditions.

CREATE TABLE leases (
    environment_id  INTEGER PRIMARY KEY REFERENCES environments(id),
    holder          TEXT NOT NULL,     -- "controller" or "apply", with pid and host in holder_id
    holder_id       TEXT NOT NULL,
    acquired_at     TEXT NOT NULL,
    heartbeat_at    TEXT NOT NULL,
    expires_at      REAL NOT NULL      -- unix seconds; a lease past this is free to take
);

CREATE TABLE service_conditions (
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    service         TEXT NOT NULL,
    condition       TEXT NOT NULL CHECK (condition IN ('Ready', 'Progressing', 'Degraded')),
    status          INTEGER NOT NULL,  -- 1 true, 0 false
    reason          TEXT NOT NULL DEFAULT '',
    since           TEXT NOT NULL,
    PRIMARY KEY (environment_id, service, condition)
) WITHOUT ROWID;
