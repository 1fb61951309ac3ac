// Package sqlite is the embedded store backend: one SQLite database file
// (modernc.org/sqlite, no cgo) in WAL mode, migrations embedded.
//
// Writes go through a single connection that begins transactions with
// BEGIN IMMEDIATE, so concurrent processes on one data directory serialise
// on SQLite's write lock (waiting up to the busy timeout) instead of failing
// or interleaving; reads use a separate pool and see consistent snapshots.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite store.
type DB struct {
	w, r *sql.DB
	// readers admits read transactions in arrival order: database/sql
	// hands a freed connection to a random waiter, which under load
	// leaves some reads waiting far longer than others.
	readers chan struct{}
}

// maxReaders is the size of the read pool.
const maxReaders = 4

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := func(lock string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(30000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(ON)")
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", lock)
		return "file:" + path + "?" + q.Encode()
	}
	wc, err := newConnector(dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rc, err := newConnector(dsn("deferred"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w := sql.OpenDB(wc)
	w.SetMaxOpenConns(1)
	r := sql.OpenDB(rc)
	r.SetMaxOpenConns(maxReaders)
	db := &DB{w: w, r: r, readers: make(chan struct{}, maxReaders)}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return errors.Join(db.w.Close(), db.r.Close())
}

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
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
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// View runs fn in a read snapshot.
func (db *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	select {
	case db.readers <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("begin read: %w", ctx.Err())
	}
	defer func() { <-db.readers }()
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&reader{q: tx})
}

// Update runs fn in a write transaction.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback()
	w := &writer{reader: reader{q: tx}, tx: tx}
	if err := fn(w); err != nil {
		return err
	}
	w.close()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

type reader struct {
	q querier
}

const (
	recordCols = `idx, kind, key, model, policy, at, data, leaf`
	listCols   = `idx, kind, key, model, policy, at, data`
	dataCols   = `idx, kind, data`
	metaCols   = `idx, kind, key, model, policy, at`
)

func scanRecord(sc interface{ Scan(...any) error }) (store.Record, error) {
	var r store.Record
	var at string
	if err := sc.Scan(&r.Index, &r.Kind, &r.Key, &r.Model, &r.Policy, &at, &r.Data, &r.Leaf); err != nil {
		return r, err
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return r, fmt.Errorf("record %d: bad time %q: %w", r.Index, at, err)
	}
	r.At = t
	return r, nil
}

func (r *reader) Size(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := r.q.QueryRowContext(ctx, `SELECT max(idx) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	if !n.Valid {
		return 0, nil
	}
	return n.Int64 + 1, nil
}

func (r *reader) Get(ctx context.Context, kind, key string) (*store.Record, error) {
	row := r.q.QueryRowContext(ctx, `SELECT `+recordCols+` FROM records WHERE kind = ? AND key = ? ORDER BY idx DESC LIMIT 1`, kind, key)
	rec, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s %q: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, key, err)
	}
	return &rec, nil
}

// ListMany runs the queries one after another (there is no round trip to
// save).
func (r *reader) ListMany(ctx context.Context, qs []store.Query) ([][]store.Record, error) {
	return store.ListEach(ctx, r, qs)
}

func (r *reader) List(ctx context.Context, q store.Query) ([]store.Record, error) {
	var where []string
	var args []any
	if len(q.Kinds) > 0 {
		where = append(where, "kind IN (?"+strings.Repeat(",?", len(q.Kinds)-1)+")")
		for _, k := range q.Kinds {
			args = append(args, k)
		}
	}
	for _, f := range []struct{ col, v string }{{"key", q.Key}, {"model", q.Model}, {"policy", q.Policy}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if q.From > 0 {
		where = append(where, "idx >= ?")
		args = append(args, q.From)
	}
	cols := listCols
	switch {
	case q.DataOnly:
		cols = dataCols
	case q.NoData:
		cols = metaCols
	}
	sqlText := `SELECT ` + cols + ` FROM records`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Limit > 0 {
		sqlText = `SELECT * FROM (` + sqlText + ` ORDER BY idx DESC LIMIT ` + strconv.Itoa(q.Limit) + `) ORDER BY idx`
	} else {
		sqlText += " ORDER BY idx"
	}
	rows, err := r.q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var rec store.Record
		if q.DataOnly {
			if err := rows.Scan(&rec.Index, &rec.Kind, &rec.Data); err != nil {
				return nil, fmt.Errorf("list records: %w", err)
			}
			out = append(out, rec)
			continue
		}
		var at string
		dest := []any{&rec.Index, &rec.Kind, &rec.Key, &rec.Model, &rec.Policy, &at, &rec.Data}
		if q.NoData {
			dest = dest[:6]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		if rec.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, fmt.Errorf("record %d: bad time %q: %w", rec.Index, at, err)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func (r *reader) Entry(ctx context.Context, i int64) (*store.Record, error) {
	rec, err := scanRecord(r.q.QueryRowContext(ctx, `SELECT `+recordCols+` FROM records WHERE idx = ?`, i))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("log entry %d: %w", i, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("log entry %d: %w", i, err)
	}
	return &rec, nil
}

func (r *reader) Scan(ctx context.Context, from, to int64, fn func(store.Record) error) error {
	rows, err := r.q.QueryContext(ctx, `SELECT `+recordCols+` FROM records WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
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
	return rows.Err()
}

func (r *reader) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	const chunk = 500
	for lo := 0; lo < len(indexes); lo += chunk {
		ids := indexes[lo:min(lo+chunk, len(indexes))]
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err := r.q.QueryContext(ctx, `SELECT id, hash FROM hashes WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("stored hashes: %w", err)
		}
		got := make(map[int64]tlog.Hash, len(ids))
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("stored hashes: %w", err)
			}
			if len(b) != tlog.HashSize {
				rows.Close()
				return nil, fmt.Errorf("stored hash %d: %d bytes", id, len(b))
			}
			var h tlog.Hash
			copy(h[:], b)
			got[id] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("stored hashes: %w", err)
		}
		for i, id := range ids {
			h, ok := got[id]
			if !ok {
				return nil, fmt.Errorf("stored hash %d: %w", id, store.ErrNotFound)
			}
			out[lo+i] = h
		}
	}
	return out, nil
}

func (r *reader) ScanHashes(ctx context.Context, fn func(int64, tlog.Hash) error) error {
	rows, err := r.q.QueryContext(ctx, `SELECT id, hash FROM hashes ORDER BY id`)
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
		var h tlog.Hash
		if len(b) != tlog.HashSize {
			return fmt.Errorf("stored hash %d: %d bytes", id, len(b))
		}
		copy(h[:], b)
		if err := fn(id, h); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *reader) cosignatures(ctx context.Context, size int64) ([][]byte, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT line FROM cosignatures WHERE size = ? ORDER BY line`, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (r *reader) LatestCheckpoint(ctx context.Context) (*store.Checkpoint, error) {
	var c store.Checkpoint
	err := r.q.QueryRowContext(ctx, `SELECT size, signed FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &c.Signed)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := r.q.QueryContext(ctx, `SELECT size, signed FROM checkpoints ORDER BY size`)
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
	return out, rows.Err()
}

func (r *reader) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := r.q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("meta %q: %w", key, err)
	}
	return v, nil
}

func (r *reader) Cached(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := r.q.QueryRowContext(ctx, `SELECT data FROM cache WHERE key = ?`, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("cache %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache %q: %w", key, err)
	}
	return b, nil
}

func (r *reader) CachedKeys(ctx context.Context) ([]string, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT key FROM cache ORDER BY key`)
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
	tx              *sql.Tx
	insRec, insHash *sql.Stmt
	size            int64
	sizeKnown       bool
}

func (w *writer) close() {
	if w.insRec != nil {
		w.insRec.Close()
	}
	if w.insHash != nil {
		w.insHash.Close()
	}
}

// insertChunk is how many rows one INSERT statement carries.
const insertChunk = 64

func valuesList(rows, cols int) string {
	one := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return one + strings.Repeat(", "+one, rows-1)
}

func (w *writer) Append(ctx context.Context, recs []store.Record) (int64, error) {
	if !w.sizeKnown {
		n, err := w.Size(ctx)
		if err != nil {
			return 0, err
		}
		w.size, w.sizeKnown = n, true
	}
	if w.insRec == nil && len(recs) >= insertChunk {
		var err error
		if w.insRec, err = w.tx.PrepareContext(ctx, `INSERT INTO records (`+recordCols+`) VALUES `+valuesList(insertChunk, 8)); err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
		if w.insHash, err = w.tx.PrepareContext(ctx, `INSERT INTO hashes (id, hash) VALUES `+valuesList(insertChunk, 2)); err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
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
	args := make([]any, 0, insertChunk*8)
	for i := 0; i < len(recs); i += insertChunk {
		end := min(i+insertChunk, len(recs))
		args = args[:0]
		for j := i; j < end; j++ {
			rec := &recs[j]
			rec.Index = first + int64(j)
			args = append(args, rec.Index, rec.Kind, rec.Key, rec.Model, rec.Policy, rec.At.UTC().Format(time.RFC3339Nano), rec.Data, rec.Leaf)
		}
		if err := w.execChunk(ctx, w.insRec, "records ("+recordCols+")", end-i, 8, args); err != nil {
			return 0, fmt.Errorf("insert records %d–%d: %w", first+int64(i), first+int64(end-1), err)
		}
	}
	for i := 0; i < len(hashes); i += insertChunk {
		end := min(i+insertChunk, len(hashes))
		args = args[:0]
		for _, h := range hashes[i:end] {
			args = append(args, h.Index, h.Hash[:])
		}
		if err := w.execChunk(ctx, w.insHash, "hashes (id, hash)", end-i, 2, args); err != nil {
			return 0, fmt.Errorf("insert hashes: %w", err)
		}
	}
	w.size += int64(len(recs))
	return first, nil
}

// execChunk runs a multi-row insert: the prepared full-chunk statement, or
// a one-off statement for a shorter last chunk.
func (w *writer) execChunk(ctx context.Context, full *sql.Stmt, table string, rows, cols int, args []any) error {
	if rows == insertChunk && full != nil {
		_, err := full.ExecContext(ctx, args...)
		return err
	}
	_, err := w.tx.ExecContext(ctx, `INSERT INTO `+table+` VALUES `+valuesList(rows, cols), args...)
	return err
}

func (w *writer) PutCheckpoint(ctx context.Context, c store.Checkpoint) error {
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO checkpoints (size, signed) VALUES (?, ?) ON CONFLICT (size) DO NOTHING`, c.Size, c.Signed); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	return nil
}

func (w *writer) AddCosignature(ctx context.Context, size int64, line []byte) error {
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO cosignatures (size, line) VALUES (?, ?) ON CONFLICT DO NOTHING`, size, line); err != nil {
		return fmt.Errorf("store cosignature: %w", err)
	}
	return nil
}

func (w *writer) PutCached(ctx context.Context, key string, data []byte) error {
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO cache (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data`, key, data); err != nil {
		return fmt.Errorf("cache %q: %w", key, err)
	}
	return nil
}

func (w *writer) SetMeta(ctx context.Context, key, value string) error {
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}
