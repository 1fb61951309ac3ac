// Package postgres is the PostgreSQL store backend (github.com/jackc/pgx/v5,
// no cgo), for deployments that share one log between several hosts or want
// the database run as a service. Migrations are embedded and applied on Open.
//
// Open takes a connection URL, postgres://user:pass@host:port/db?…; any
// parameter pgx does not know is sent to the server as a run-time
// parameter, so ?search_path=NAME keeps the tables in schema NAME (which
// must exist). pgxpool's pool_* parameters size the pool.
//
// Writers serialise on a transaction-scoped advisory lock keyed by the
// records table, taken first in every Update: one writer at a time per log,
// across processes and hosts, so log indexes stay dense and every Append
// computes its stored hashes over the tree as last committed. An advisory
// lock is used rather than LOCK TABLE because (auto)vacuum and analyze take
// locks that conflict with table locks, not with advisory ones. Writers run
// at READ COMMITTED, so after the lock they see every earlier commit; View
// runs in a REPEATABLE READ, READ ONLY snapshot.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL store.
type DB struct {
	pool *pgxpool.Pool
	// writeLock is the advisory lock key every Update takes.
	writeLock int64
}

var _ store.Store = (*DB)(nil)

const (
	// lockSpace is the high half of the advisory lock keys this package
	// takes; the low half is the records table's oid (for writers) or a
	// hash of the schema name (for migrations).
	lockSpace = int64(0x5CA1E) << 32
	// defaultMaxConns sizes the pool unless the URL sets pool_max_conns:
	// a View may open a second snapshot (Verify streams hashes alongside
	// records), and writers waiting for the write lock hold a connection.
	defaultMaxConns = 16
)

// Open connects to the database at the URL dsn and migrates it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: cannot parse the connection URL")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", where, err)
	}
	var oid int64
	if err := pool.QueryRow(ctx, `SELECT 'records'::regclass::oid::bigint`).Scan(&oid); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	db.writeLock = lockSpace | oid
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Concurrent first opens of one schema take turns.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1 | (hashtext('scalegate migrate ' || coalesce(current_schema(), '')) & x'7fffffff'::int)::bigint)`, lockSpace); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		// No arguments: the simple protocol, which runs every statement.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// View runs fn in a read-only snapshot.
func (db *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(&reader{q: tx})
}

// Update runs fn in a write transaction, after every earlier writer.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.writeLock); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	if err := fn(&writer{reader: reader{q: tx}, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type reader struct {
	q pgx.Tx
}

const (
	recordCols = `idx, kind, key, model, policy, at, data, leaf`
	listCols   = `idx, kind, key, model, policy, at, data`
)

func parseAt(idx int64, at string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return t, fmt.Errorf("record %d: bad time %q: %w", idx, at, err)
	}
	return t, nil
}

func scanRecord(sc pgx.Row) (store.Record, error) {
	var r store.Record
	var at string
	if err := sc.Scan(&r.Index, &r.Kind, &r.Key, &r.Model, &r.Policy, &at, &r.Data, &r.Leaf); err != nil {
		return r, err
	}
	var err error
	r.At, err = parseAt(r.Index, at)
	return r, err
}

func (r *reader) Size(ctx context.Context) (int64, error) {
	var n *int64
	if err := r.q.QueryRow(ctx, `SELECT max(idx) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	if n == nil {
		return 0, nil
	}
	return *n + 1, nil
}

func (r *reader) Get(ctx context.Context, kind, key string) (*store.Record, error) {
	rec, err := scanRecord(r.q.QueryRow(ctx, `SELECT `+recordCols+` FROM records WHERE kind = $1 AND key = $2 ORDER BY idx DESC LIMIT 1`, kind, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s %q: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, key, err)
	}
	return &rec, nil
}

func (r *reader) List(ctx context.Context, q store.Query) ([]store.Record, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.Kinds) > 0 {
		where = append(where, "kind = ANY("+arg(q.Kinds)+"::text[])")
	}
	for _, f := range []struct{ col, v string }{{"key", q.Key}, {"model", q.Model}, {"policy", q.Policy}} {
		if f.v != "" {
			where = append(where, f.col+" = "+arg(f.v))
		}
	}
	if q.From > 0 {
		where = append(where, "idx >= "+arg(q.From))
	}
	cols := listCols
	if q.NoData {
		cols = `idx, kind, key, model, policy, at`
	}
	sqlText := `SELECT ` + cols + ` FROM records`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Limit > 0 {
		sqlText = `SELECT * FROM (` + sqlText + ` ORDER BY idx DESC LIMIT ` + strconv.Itoa(q.Limit) + `) newest ORDER BY idx`
	} else {
		sqlText += " ORDER BY idx"
	}
	rows, err := r.q.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var rec store.Record
		var at string
		dest := []any{&rec.Index, &rec.Kind, &rec.Key, &rec.Model, &rec.Policy, &at, &rec.Data}
		if q.NoData {
			dest = dest[:6]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		if rec.At, err = parseAt(rec.Index, at); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	return out, nil
}

func (r *reader) Entry(ctx context.Context, i int64) (*store.Record, error) {
	rec, err := scanRecord(r.q.QueryRow(ctx, `SELECT `+recordCols+` FROM records WHERE idx = $1`, i))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("log entry %d: %w", i, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("log entry %d: %w", i, err)
	}
	return &rec, nil
}

// Scan streams the rows: fn must not use the reader while it runs.
func (r *reader) Scan(ctx context.Context, from, to int64, fn func(store.Record) error) error {
	rows, err := r.q.Query(ctx, `SELECT `+recordCols+` FROM records WHERE idx >= $1 AND idx < $2 ORDER BY idx`, from, to)
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return fmt.Errorf("scan records: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	return nil
}

func (r *reader) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := r.q.Query(ctx, `SELECT id, hash FROM hashes WHERE id = ANY($1::bigint[])`, indexes)
	if err != nil {
		return nil, fmt.Errorf("stored hashes: %w", err)
	}
	defer rows.Close()
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("stored hashes: %w", err)
		}
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("stored hash %d: %d bytes", id, len(b))
		}
		found[id] = tlog.Hash(b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stored hashes: %w", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, id := range indexes {
		h, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("stored hash %d: %w", id, store.ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// ScanHashes streams the rows: fn must not use the reader while it runs.
func (r *reader) ScanHashes(ctx context.Context, fn func(int64, tlog.Hash) error) error {
	rows, err := r.q.Query(ctx, `SELECT id, hash FROM hashes ORDER BY id`)
	if err != nil {
		return fmt.Errorf("scan hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return fmt.Errorf("scan hashes: %w", err)
		}
		if len(b) != tlog.HashSize {
			return fmt.Errorf("stored hash %d: %d bytes", id, len(b))
		}
		if err := fn(id, tlog.Hash(b)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan hashes: %w", err)
	}
	return nil
}

func (r *reader) cosignatures(ctx context.Context, size int64) ([][]byte, error) {
	rows, err := r.q.Query(ctx, `SELECT line FROM cosignatures WHERE size = $1 ORDER BY line`, size)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

func (r *reader) LatestCheckpoint(ctx context.Context) (*store.Checkpoint, error) {
	var c store.Checkpoint
	err := r.q.QueryRow(ctx, `SELECT size, signed FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &c.Signed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("checkpoint: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if c.Cosignatures, err = r.cosignatures(ctx, c.Size); err != nil {
		return nil, fmt.Errorf("cosignatures: %w", err)
	}
	return &c, nil
}

func (r *reader) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := r.q.Query(ctx, `SELECT size, signed FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		var c store.Checkpoint
		if err := rows.Scan(&c.Size, &c.Signed); err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return out, nil
}

func (r *reader) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := r.q.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("meta %q: %w", key, err)
	}
	return v, nil
}

func (r *reader) Cached(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := r.q.QueryRow(ctx, `SELECT data FROM cache WHERE key = $1`, key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("cache %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache %q: %w", key, err)
	}
	return b, nil
}

func (r *reader) CachedKeys(ctx context.Context) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT key FROM cache ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("cache keys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("cache keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

type writer struct {
	reader
	tx        pgx.Tx
	size      int64
	sizeKnown bool
}

// copyMin is the batch size from which Append uses COPY rather than one
// INSERT … SELECT FROM unnest(…) (one round trip, but arrays to build).
const copyMin = 256

func (w *writer) Append(ctx context.Context, recs []store.Record) (int64, error) {
	if !w.sizeKnown {
		n, err := w.Size(ctx)
		if err != nil {
			return 0, err
		}
		w.size, w.sizeKnown = n, true
	}
	if len(recs) == 0 {
		return w.size, nil
	}
	first := w.size
	leaves := make([][]byte, len(recs))
	for i := range recs {
		leaves[i] = recs[i].Leaf
	}
	hashes, err := transparency.AppendHashes(first, leaves, store.HashReader(ctx, w))
	if err != nil {
		return 0, fmt.Errorf("append to log: %w", err)
	}
	for i := range recs {
		recs[i].Index = first + int64(i)
	}
	last := first + int64(len(recs)) - 1
	if err := w.insertRecords(ctx, recs); err != nil {
		return 0, fmt.Errorf("insert records %d–%d: %w", first, last, err)
	}
	if err := w.insertHashes(ctx, hashes); err != nil {
		return 0, fmt.Errorf("insert hashes of records %d–%d: %w", first, last, err)
	}
	w.size += int64(len(recs))
	return first, nil
}

func (w *writer) insertRecords(ctx context.Context, recs []store.Record) error {
	at := func(r *store.Record) string { return r.At.UTC().Format(time.RFC3339Nano) }
	if len(recs) >= copyMin {
		_, err := w.tx.CopyFrom(ctx, pgx.Identifier{"records"},
			[]string{"idx", "kind", "key", "model", "policy", "at", "data", "leaf"},
			pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
				r := &recs[i]
				return []any{r.Index, r.Kind, r.Key, r.Model, r.Policy, at(r), r.Data, r.Leaf}, nil
			}))
		return err
	}
	n := len(recs)
	idx, ats := make([]int64, n), make([]string, n)
	kind, key, model, pol := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	data, leaf := make([][]byte, n), make([][]byte, n)
	for i := range recs {
		r := &recs[i]
		idx[i], kind[i], key[i], model[i], pol[i], ats[i], data[i], leaf[i] = r.Index, r.Kind, r.Key, r.Model, r.Policy, at(r), r.Data, r.Leaf
	}
	_, err := w.tx.Exec(ctx, `INSERT INTO records (`+recordCols+`)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])`,
		idx, kind, key, model, pol, ats, data, leaf)
	return err
}

func (w *writer) insertHashes(ctx context.Context, hashes []transparency.StoredHash) error {
	if len(hashes) >= copyMin {
		_, err := w.tx.CopyFrom(ctx, pgx.Identifier{"hashes"}, []string{"id", "hash"},
			pgx.CopyFromSlice(len(hashes), func(i int) ([]any, error) {
				return []any{hashes[i].Index, hashes[i].Hash[:]}, nil
			}))
		return err
	}
	ids, hs := make([]int64, len(hashes)), make([][]byte, len(hashes))
	for i := range hashes {
		ids[i], hs[i] = hashes[i].Index, hashes[i].Hash[:]
	}
	_, err := w.tx.Exec(ctx, `INSERT INTO hashes (id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, ids, hs)
	return err
}

func (w *writer) PutCheckpoint(ctx context.Context, c store.Checkpoint) error {
	if _, err := w.tx.Exec(ctx, `INSERT INTO checkpoints (size, signed) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING`, c.Size, c.Signed); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	return nil
}

func (w *writer) AddCosignature(ctx context.Context, size int64, line []byte) error {
	if _, err := w.tx.Exec(ctx, `INSERT INTO cosignatures (size, line) VALUES ($1, $2) ON CONFLICT DO NOTHING`, size, line); err != nil {
		return fmt.Errorf("store cosignature: %w", err)
	}
	return nil
}

func (w *writer) PutCached(ctx context.Context, key string, data []byte) error {
	if _, err := w.tx.Exec(ctx, `INSERT INTO cache (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data`, key, data); err != nil {
		return fmt.Errorf("cache %q: %w", key, err)
	}
	return nil
}

func (w *writer) SetMeta(ctx context.Context, key, value string) error {
	if _, err := w.tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}
