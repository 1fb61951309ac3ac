package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// The driver prepares every query it is given, and on the gate's hot path
// preparing (parsing and planning) costs as much as running the query. The
// wrapper below keeps each connection's prepared statements by SQL text and
// runs a query on its statement again, reset rather than finalised after
// each use. database/sql hands a connection to one goroutine at a time, so
// the cache needs no lock; a statement whose rows are still open is not
// reused (a query of the same text while they are open gets a statement of
// its own).

// maxCachedStmts bounds the statements kept per connection; past it,
// queries are prepared and finalised as before.
const maxCachedStmts = 128

// maxCachedSQL bounds the length of SQL text worth keeping a statement for
// (migration scripts are run once).
const maxCachedSQL = 8 << 10

// connector opens connections with a statement cache.
type connector struct {
	driver.Connector
}

func newConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return connector{c}, nil
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := dc.(innerConn); !ok {
		return dc, nil // a driver without these methods: no cache
	}
	return &conn{Conn: dc, stmts: map[string]*cachedStmt{}}, nil
}

// innerConn is what the wrapped driver connection implements.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

var _ innerConn = (*conn)(nil)

type conn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st    driver.Stmt
	inUse bool // rows of it are open
}

// stmtFor returns the cached statement for query, preparing it on first
// use, or nil when the query is not to be cached or its statement is busy.
func (c *conn) stmtFor(ctx context.Context, query string) (*cachedStmt, error) {
	if s := c.stmts[query]; s != nil {
		if s.inUse {
			return nil, nil
		}
		return s, nil
	}
	if len(query) > maxCachedSQL || len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{st: st}
	c.stmts[query] = s
	return s, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := s.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.inUse = true
	return &cachedRows{Rows: rows, s: s}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return s.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close finalises the cached statements, then closes the connection.
func (c *conn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.Conn.Close())...)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *conn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *conn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *conn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// cachedRows frees its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.s.inUse = false
	return err
}
