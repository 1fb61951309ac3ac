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
//
// Round trips are what a decision costs on PostgreSQL, so both begin in one
// batch that also reads the log size; a writer queues its writes and sends
// them before its next read, or together with its COMMIT; ListMany sends
// several queries at once.
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
	"github.com/jackc/pgx/v5/pgconn"
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

// View runs fn in a read-only snapshot. One round trip begins the
// snapshot and reads its log size (which the snapshot fixes, and which
// most readers ask for first).
func (db *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	// A connection left inside a transaction (the ROLLBACK failed) is
	// closed by the pool on release, never reused.
	defer c.Release()
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	b.Queue(`SELECT max(idx) FROM records`)
	size, err := beginBatch(ctx, c, &b)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer c.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
	return fn(&reader{q: c, size: size})
}

// Update runs fn in a write transaction, after every earlier writer. One
// round trip begins the transaction and takes the write lock; the writes
// fn makes are sent together (see writer), and the transaction commits
// with one more.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	// A connection left inside a transaction (fn failed, or the ROLLBACK
	// did) is closed by the pool on release, never reused.
	defer c.Release()
	// The log size is read after the lock, so it counts every earlier
	// writer's records.
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, db.writeLock)
	b.Queue(`SELECT max(idx) FROM records`)
	committed := false
	defer func() {
		if !committed {
			c.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	size, err := beginBatch(ctx, c, &b)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	w := &writer{conn: c, hashes: map[int64]tlog.Hash{}, size: size, sizeKnown: true}
	w.reader = reader{q: flushing{w}, size: -1}
	if err := fn(w); err != nil {
		return err
	}
	// The queued writes and the COMMIT go in one round trip.
	w.queue(`COMMIT`)
	cb := w.pending
	w.pending = pgx.Batch{}
	br := c.SendBatch(ctx, &cb)
	var tag pgconn.CommandTag
	for range cb.Len() {
		if tag, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// An aborted transaction answers COMMIT with ROLLBACK.
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: the transaction was rolled back")
	}
	committed = true
	return nil
}

// beginBatch sends b, which begins a transaction and ends with SELECT
// max(idx) FROM records, and returns the log size that query read.
func beginBatch(ctx context.Context, c *pgxpool.Conn, b *pgx.Batch) (int64, error) {
	br := c.SendBatch(ctx, b)
	defer br.Close()
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			return 0, err
		}
	}
	var n *int64
	if err := br.QueryRow().Scan(&n); err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	if err := br.Close(); err != nil {
		return 0, err
	}
	if n == nil { // an empty log
		return 0, nil
	}
	return *n + 1, nil
}

// querier runs queries: a pooled connection inside a read transaction, or
// a write transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

type reader struct {
	q querier
	// size is the log size of a read snapshot, or -1 in a writer (whose
	// log grows as it appends).
	size int64
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
	if r.size >= 0 {
		return r.size, nil
	}
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

// listSQL is the query text and arguments of q.
func listSQL(q store.Query) (string, []any) {
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
	return sqlText, args
}

// scanList reads the rows of a listSQL query.
func scanList(rows pgx.Rows, q store.Query) ([]store.Record, error) {
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
		var err error
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

func (r *reader) List(ctx context.Context, q store.Query) ([]store.Record, error) {
	sqlText, args := listSQL(q)
	rows, err := r.q.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	return scanList(rows, q)
}

func (r *reader) ListMany(ctx context.Context, qs []store.Query) ([][]store.Record, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	if len(qs) == 1 {
		recs, err := r.List(ctx, qs[0])
		return [][]store.Record{recs}, err
	}
	var b pgx.Batch
	for _, q := range qs {
		sqlText, args := listSQL(q)
		b.Queue(sqlText, args...)
	}
	br := r.q.SendBatch(ctx, &b)
	defer br.Close()
	out := make([][]store.Record, len(qs))
	for i, q := range qs {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		if out[i], err = scanList(rows, q); err != nil {
			return nil, err
		}
	}
	return out, br.Close()
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

// writer is a write transaction. Its writes are queued and sent
// together, in one round trip, before its next read and at commit; its
// reads of stored hashes are answered from what it has written or read
// before where it can, since a log write (Append, then the checkpoint's
// tree hash) reads the same few hashes twice.
type writer struct {
	reader
	conn      *pgxpool.Conn
	size      int64
	sizeKnown bool
	pending   pgx.Batch
	hashes    map[int64]tlog.Hash // written or read in this transaction
}

// flushing is a writer's querier: it sends the queued writes first, so
// reads see them.
type flushing struct{ w *writer }

func (f flushing) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := f.w.flush(ctx); err != nil {
		return nil, err
	}
	return f.w.conn.Query(ctx, sql, args...)
}

func (f flushing) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := f.w.flush(ctx); err != nil {
		return errRow{err}
	}
	return f.w.conn.QueryRow(ctx, sql, args...)
}

func (f flushing) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := f.w.flush(ctx); err != nil {
		return errBatch{err}
	}
	return f.w.conn.SendBatch(ctx, b)
}

// errBatch is a batch whose every result fails.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }

// errRow is a row whose Scan fails.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// queue adds a write to the next round trip.
func (w *writer) queue(sql string, args ...any) {
	w.pending.Queue(sql, args...)
}

// flush sends the queued writes.
func (w *writer) flush(ctx context.Context) error {
	if w.pending.Len() == 0 {
		return nil
	}
	b := w.pending
	w.pending = pgx.Batch{}
	if err := w.conn.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (w *writer) Size(ctx context.Context) (int64, error) {
	if w.sizeKnown {
		return w.size, nil
	}
	n, err := w.reader.Size(ctx)
	if err != nil {
		return 0, err
	}
	w.size, w.sizeKnown = n, true
	return n, nil
}

// ReadHashes answers from the hashes this transaction wrote or read, and
// reads the others without sending the queued writes: those hold only
// hashes of records appended here, which the map already has.
func (w *writer) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	var missing []int64
	for _, id := range indexes {
		if _, ok := w.hashes[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		got, err := (&reader{q: w.conn, size: -1}).ReadHashes(ctx, missing)
		if err != nil {
			return nil, err
		}
		for i, id := range missing {
			w.hashes[id] = got[i]
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, id := range indexes {
		out[i] = w.hashes[id]
	}
	return out, nil
}

// copyMin is the batch size from which Append uses COPY rather than one
// INSERT … SELECT FROM unnest(…) (one round trip, but arrays to build).
const copyMin = 256

func (w *writer) Append(ctx context.Context, recs []store.Record) (int64, error) {
	first, err := w.Size(ctx)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return first, nil
	}
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
	for _, h := range hashes {
		w.hashes[h.Index] = h.Hash
	}
	w.size += int64(len(recs))
	return first, nil
}

func (w *writer) insertRecords(ctx context.Context, recs []store.Record) error {
	at := func(r *store.Record) string { return r.At.UTC().Format(time.RFC3339Nano) }
	if len(recs) >= copyMin {
		if err := w.flush(ctx); err != nil {
			return err
		}
		_, err := w.conn.CopyFrom(ctx, pgx.Identifier{"records"},
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
	w.queue(`INSERT INTO records (`+recordCols+`)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])`,
		idx, kind, key, model, pol, ats, data, leaf)
	return nil
}

func (w *writer) insertHashes(ctx context.Context, hashes []transparency.StoredHash) error {
	if len(hashes) >= copyMin {
		if err := w.flush(ctx); err != nil {
			return err
		}
		_, err := w.conn.CopyFrom(ctx, pgx.Identifier{"hashes"}, []string{"id", "hash"},
			pgx.CopyFromSlice(len(hashes), func(i int) ([]any, error) {
				return []any{hashes[i].Index, hashes[i].Hash[:]}, nil
			}))
		return err
	}
	ids, hs := make([]int64, len(hashes)), make([][]byte, len(hashes))
	for i := range hashes {
		ids[i], hs[i] = hashes[i].Index, hashes[i].Hash[:]
	}
	w.queue(`INSERT INTO hashes (id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, ids, hs)
	return nil
}

func (w *writer) PutCheckpoint(ctx context.Context, c store.Checkpoint) error {
	w.queue(`INSERT INTO checkpoints (size, signed) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING`, c.Size, c.Signed)
	return nil
}

func (w *writer) AddCosignature(ctx context.Context, size int64, line []byte) error {
	w.queue(`INSERT INTO cosignatures (size, line) VALUES ($1, $2) ON CONFLICT DO NOTHING`, size, line)
	return nil
}

func (w *writer) PutCached(ctx context.Context, key string, data []byte) error {
	w.queue(`INSERT INTO cache (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data`, key, data)
	return nil
}

func (w *writer) SetMeta(ctx context.Context, key, value string) error {
	w.queue(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return nil
}
