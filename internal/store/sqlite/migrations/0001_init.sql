-- Records: every record is a log leaf; idx is its position in the log.
CREATE TABLE records (
    idx    INTEGER PRIMARY KEY,
    kind   TEXT    NOT NULL,
    key    TEXT    NOT NULL DEFAULT '',
    model  TEXT    NOT NULL DEFAULT '',
    policy TEXT    NOT NULL DEFAULT '',
    at     TEXT    NOT NULL,
    data   BLOB    NOT NULL,
    leaf   BLOB    NOT NULL
);
CREATE INDEX records_kind_key ON records (kind, key, idx);
CREATE INDEX records_model ON records (model, kind, idx);
CREATE INDEX records_policy ON records (policy, kind, idx);

-- Stored hashes of the Merkle tree, by tlog storage index.
CREATE TABLE hashes (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Signed checkpoints, one per tree size that was signed.
CREATE TABLE checkpoints (
    size   INTEGER PRIMARY KEY,
    signed BLOB NOT NULL
);

CREATE TABLE cosignatures (
    size INTEGER NOT NULL,
    line BLOB    NOT NULL,
    PRIMARY KEY (size, line)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
