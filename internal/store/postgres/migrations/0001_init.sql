-- Records: every record is a log leaf; idx is its position in the log.
-- at is RFC 3339 text with nanoseconds in UTC, as in the sqlite backend,
-- so times round-trip exactly (TIMESTAMPTZ keeps microseconds only).
CREATE TABLE records (
    idx    BIGINT PRIMARY KEY,
    kind   TEXT   NOT NULL,
    key    TEXT   NOT NULL DEFAULT '',
    model  TEXT   NOT NULL DEFAULT '',
    policy TEXT   NOT NULL DEFAULT '',
    at     TEXT   NOT NULL,
    data   BYTEA  NOT NULL,
    leaf   BYTEA  NOT NULL
);
CREATE INDEX records_kind_key ON records (kind, key, idx);
CREATE INDEX records_model ON records (model, kind, idx);
CREATE INDEX records_policy ON records (policy, kind, idx);

-- Stored hashes of the Merkle tree, by tlog storage index.
CREATE TABLE hashes (
    id   BIGINT PRIMARY KEY,
    hash BYTEA  NOT NULL
);

-- Signed checkpoints, one per tree size that was signed.
CREATE TABLE checkpoints (
    size   BIGINT PRIMARY KEY,
    signed BYTEA  NOT NULL
);

CREATE TABLE cosignatures (
    size BIGINT NOT NULL,
    line BYTEA  NOT NULL,
    PRIMARY KEY (size, line)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
