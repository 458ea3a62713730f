-- The lock: for each revision that converged (or was imported with one), the registry digest each
-- service's image resolved to. A locked apply runs these digests, so a moved tag changes nothing.

CREATE TABLE image_locks (
    environment_id   INTEGER NOT NULL REFERENCES environments(id),
    revision_number  INTEGER NOT NULL,
    service          TEXT NOT NULL,
    -- The reference in the spec, e.g. "registry.example.com/app:1".
    reference        TEXT NOT NULL,
    -- "repository@sha256:…", pullable by digest.
    digest           TEXT NOT NULL,
    PRIMARY KEY (environment_id, revision_number, service)
) WITHOUT ROWID;
