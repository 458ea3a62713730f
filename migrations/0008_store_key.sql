-- Settings of this database. "secret-key" is a random key, made here once, for the keyed digest
-- of secret values in the dev.devstack.secrets label: a rotated secret recreates the containers
-- that use it, and the label says nothing about the value.

CREATE TABLE store_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO store_settings (key, value) VALUES ('secret-key', lower(hex(randomblob(32))));
