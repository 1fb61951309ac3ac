-- Derived data kept to make reads fast (for example a model's evidence
-- as of a log size). Never authoritative: `log verify` checks it against
-- the records, and deleting it is always safe.
CREATE TABLE cache (
    key  TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
