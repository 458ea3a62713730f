-- Environments, immutable revisions, content-addressed specs and the event log.

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

-- Canonical JSON of service specs and of environment settings, stored once per distinct value.
CREATE TABLE specs (
    id    INTEGER PRIMARY KEY,
    hash  TEXT NOT NULL UNIQUE,
    body  TEXT NOT NULL
);

CREATE TABLE revisions (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    number          INTEGER NOT NULL,
    parent_number   INTEGER,
    spec_hash       TEXT NOT NULL,
    settings_id     INTEGER NOT NULL REFERENCES specs(id),
    author          TEXT NOT NULL,
    host            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    message         TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL CHECK (source IN ('apply', 'rollback', 'import')),
    changes         TEXT NOT NULL DEFAULT '',
    provenance      TEXT,
    project_dir     TEXT,
    UNIQUE (environment_id, number)
);

CREATE TABLE revision_services (
    revision_id  INTEGER NOT NULL REFERENCES revisions(id),
    service      TEXT NOT NULL,
    spec_id      INTEGER NOT NULL REFERENCES specs(id),
    PRIMARY KEY (revision_id, service)
) WITHOUT ROWID;

-- A revision, once written, is history: it is never edited or deleted.
CREATE TRIGGER revisions_are_immutable BEFORE UPDATE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;
CREATE TRIGGER revisions_are_kept BEFORE DELETE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;
CREATE TRIGGER revision_services_are_immutable BEFORE UPDATE ON revision_services
BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;
CREATE TRIGGER revision_services_are_kept BEFORE DELETE ON revision_services
BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;

CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    environment_id   INTEGER NOT NULL REFERENCES environments(id),
    revision_number  INTEGER,
    time             TEXT NOT NULL,
    service          TEXT,
    action           TEXT NOT NULL,
    cause            TEXT NOT NULL DEFAULT '',
    outcome          TEXT NOT NULL,
    duration_ms      INTEGER,
    detail           TEXT
);
CREATE INDEX events_by_environment ON events (environment_id, id);
