package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"closedloop/extract"
	"closedloop/load/redact"
)

// postgres is a schema of a PostgreSQL database, read through pgx's binary protocol.
// It keeps one idle connection; a call made while another holds it (a Columns
// inside a Read's callback) dials its own.
type postgres struct {
	log    *slog.Logger
	spec   string // the location, redacted
	cfg    *pgx.ConnConfig
	schema string

	mu     sync.Mutex
	idle   *pgx.Conn
	closed bool
}

var _ Source = (*postgres)(nil)

func openPostgres(ctx context.Context, location string, opt Options) (Source, error) {
	dsn, query, _ := strings.Cut(location, "?")
	schema, rest, err := splitSchema(query, "public")
	if err != nil || schema == "" {
		return nil, configError(location, "want postgres://USER:PASSWORD@HOST:PORT/DATABASE?schema=S "+
			"(a libpq URL; schema defaults to public)")
	}
	if rest != "" {
		dsn += "?" + rest
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, configError(location, "not a PostgreSQL URL: %s", redact.String(err.Error()))
	}
	p := &postgres{log: opt.Log, spec: redact.Spec(location), cfg: cfg, schema: schema}
	var n int
	err = p.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n)
	})
	if err != nil {
		return nil, p.error("checking the schema", err)
	}
	if n == 0 {
		p.Close()
		return nil, configError(location, "no schema %q in the database: name the schema the connector writes "+
			"(Fivetran: the connector's destination schema, such as hubspot) with ?schema=S", schema)
	}
	return p, nil
}

func (p *postgres) Spec() string { return p.spec }

// Close closes the idle connection. It is safe to call twice.
func (p *postgres) Close() error {
	p.mu.Lock()
	c := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Close(ctx)
}

// with calls fn with a connection: the idle one, or a new one.
func (p *postgres) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	p.mu.Lock()
	c := p.idle
	p.idle = nil
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("%s: the source is closed", p.spec)
	}
	if c == nil {
		var err error
		if c, err = pgx.ConnectConfig(ctx, p.cfg); err != nil {
			return p.error("connecting", err)
		}
	}
	err := fn(c)
	p.mu.Lock()
	if p.idle == nil && !p.closed && !c.IsClosed() && err == nil {
		p.idle, c = c, nil
	}
	p.mu.Unlock()
	if c != nil {
		// A connection after an error (a cancelled query) may be in any state.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(cctx)
	}
	return err
}

// error explains a PostgreSQL error of doing what; a refused login is a
// configuration error. No password appears.
func (p *postgres) error(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, extract.ErrConfig) || strings.HasPrefix(err.Error(), p.spec+":") {
		return err // explained already
	}
	msg := redact.String(err.Error())
	if strings.Contains(msg, p.cfg.Password) && p.cfg.Password != "" {
		msg = strings.ReplaceAll(msg, p.cfg.Password, redact.Mask)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"): // invalid_authorization_specification, invalid_password
			return fmt.Errorf("%w: %s: %s: login refused: check the user and password of the URL (or PGPASSWORD, "+
				"~/.pgpass) and that pg_hba.conf admits this host (%s)", extract.ErrConfig, p.spec, what, msg)
		case pe.Code == "3D000": // invalid_catalog_name
			return fmt.Errorf("%w: %s: %s: the database does not exist: name the database the connector writes "+
				"to in the URL (%s)", extract.ErrConfig, p.spec, what, msg)
		case pe.Code == "42501": // insufficient_privilege
			return fmt.Errorf("%w: %s: %s: permission denied: GRANT USAGE ON SCHEMA %s and SELECT ON ALL TABLES "+
				"IN SCHEMA %s to the URL's user (%s)", extract.ErrConfig, p.spec, what, p.schema, p.schema, msg)
		}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %s: %s (check the host and port of the URL and that the server accepts connections)",
			p.spec, what, msg)
	}
	return fmt.Errorf("%s: %s: %s", p.spec, what, msg)
}

func (p *postgres) Tables(ctx context.Context) (names []string, err error) {
	err = p.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT lower(table_name) FROM information_schema.tables
			WHERE table_schema = $1 ORDER BY 1`, p.schema)
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, p.error("listing tables", err)
	}
	return names, nil
}

// columns returns the table's real name and its columns.
func (p *postgres) columns(ctx context.Context, c *pgx.Conn, table string) (string, []column, error) {
	rows, err := c.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = $1 AND lower(table_name) = lower($2) ORDER BY ordinal_position`, p.schema, table)
	if err != nil {
		return "", nil, p.error("columns of "+table, err)
	}
	var name string
	var cols []column
	for rows.Next() {
		var col column
		if err := rows.Scan(&name, &col.name, &col.typ); err != nil {
			rows.Close()
			return "", nil, p.error("columns of "+table, err)
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		return "", nil, p.error("columns of "+table, err)
	}
	if len(cols) == 0 {
		return "", nil, missingTable(p.spec, table)
	}
	return name, cols, nil
}

func (p *postgres) Columns(ctx context.Context, table string) (names []string, err error) {
	err = p.with(ctx, func(c *pgx.Conn) error {
		_, cols, err := p.columns(ctx, c, table)
		for _, col := range cols {
			names = append(names, strings.ToLower(col.name))
		}
		return err
	})
	return names, err
}

func (p *postgres) Read(ctx context.Context, table string, cols []string, f *DayFilter, fn func(row []string) error) error {
	return p.with(ctx, func(c *pgx.Conn) error {
		real, all, err := p.columns(ctx, c, table)
		if err != nil {
			return err
		}
		query, args, err := selectQuery(pgDialect, p.spec, p.schema, real, all, cols, f)
		if err != nil {
			return err
		}
		p.log.Debug("tables: query", "source", p.spec, "sql", query, "args", args)
		return p.read(ctx, c, query, args, len(cols), fn)
	})
}

// query builds the SELECT of cols (found in all) with f's day range as its WHERE.
// JSON, UUID and the types without a rendering of their own travel as text.
// pgDialect is PostgreSQL's SELECT: the types pgRenderer decodes from the binary
// protocol as they are, arrays as JSON, others as text.
var pgDialect = sqlDialect{
	cell: func(c column) string {
		q := quoteIdent(c.name)
		switch c.typ {
		case "boolean", "smallint", "integer", "bigint", "real", "double precision", "numeric", "date",
			"timestamp with time zone", "timestamp without time zone", "text", "character varying", "character":
			return q
		case "ARRAY":
			return "to_json(" + q + ")::text"
		}
		return q + "::text"
	},
	days: func(typ string) dayKind {
		switch typ {
		case "date":
			return dayDate
		case "timestamp with time zone":
			return dayInstant
		case "timestamp without time zone":
			return dayLocal
		case "text", "character varying", "character":
			return dayText
		}
		return noDays
	},
	param: func(n int, kind dayKind) string {
		p := fmt.Sprintf("$%d", n)
		switch kind {
		case dayDate:
			return p + "::date"
		case dayInstant:
			return p + "::timestamptz"
		case dayLocal:
			return p + "::timestamp"
		}
		return p
	},
}

func (p *postgres) read(ctx context.Context, c *pgx.Conn, query string, args []any, n int, fn func([]string) error) error {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return p.error("reading", err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	render := make([]func([]byte) (string, error), len(fields))
	for i, fd := range fields {
		render[i] = pgRenderer(c.TypeMap(), fd)
	}
	row := make([]string, n)
	for rows.Next() {
		raw := rows.RawValues()
		for i := range row {
			if raw[i] == nil {
				row[i] = ""
				continue
			}
			if row[i], err = render[i](raw[i]); err != nil {
				return fmt.Errorf("%s: column %s: %w", p.spec, fields[i].Name, err)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return p.error("reading", err)
	}
	return ctx.Err()
}

// pgEpoch is PostgreSQL's day 0 and microsecond 0 of dates and timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// pgRenderer returns the renderer of a result column's values: the binary
// encodings of the types read are decoded here, without the allocation of a Go value
// per cell; the text format (types pgx reads as text) is taken as is.
func pgRenderer(m *pgtype.Map, fd pgconn.FieldDescription) func([]byte) (string, error) {
	if fd.Format == pgx.TextFormatCode {
		return func(b []byte) (string, error) { return string(b), nil }
	}
	bad := func(b []byte) error { return fmt.Errorf("%d bytes are not a binary %d", len(b), fd.DataTypeOID) }
	switch fd.DataTypeOID {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		return func(b []byte) (string, error) { return string(b), nil }
	case pgtype.BoolOID:
		return func(b []byte) (string, error) { return renderBool(len(b) == 1 && b[0] != 0), nil }
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return func(b []byte) (string, error) {
			var v int64
			switch len(b) {
			case 2:
				v = int64(int16(uint16(b[0])<<8 | uint16(b[1])))
			case 4:
				v = int64(int32(be32(b)))
			case 8:
				v = int64(be64(b))
			default:
				return "", bad(b)
			}
			return strconv.FormatInt(v, 10), nil
		}
	case pgtype.Float4OID:
		return func(b []byte) (string, error) {
			if len(b) != 4 {
				return "", bad(b)
			}
			return renderFloat32(float32frombits(be32(b))), nil
		}
	case pgtype.Float8OID:
		return func(b []byte) (string, error) {
			if len(b) != 8 {
				return "", bad(b)
			}
			return renderFloat(float64frombits(be64(b))), nil
		}
	case pgtype.DateOID:
		return func(b []byte) (string, error) {
			if len(b) != 4 {
				return "", bad(b)
			}
			days := int32(be32(b))
			if days == 1<<31-1 || days == -1<<31 {
				return pgInfinity(days > 0), nil
			}
			return renderDate(pgEpoch.AddDate(0, 0, int(days))), nil
		}
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		return func(b []byte) (string, error) {
			if len(b) != 8 {
				return "", bad(b)
			}
			us := int64(be64(b))
			if us == 1<<63-1 || us == -1<<63 {
				return pgInfinity(us > 0), nil
			}
			return renderTime(pgEpoch.Add(time.Duration(us%86_400_000_000)*time.Microsecond).
				AddDate(0, 0, int(us/86_400_000_000))), nil
		}
	case pgtype.NumericOID:
		return func(b []byte) (string, error) {
			var v pgtype.Numeric
			if err := m.Scan(fd.DataTypeOID, fd.Format, b, &v); err != nil {
				return "", err
			}
			switch {
			case v.NaN:
				return "NaN", nil
			case v.InfinityModifier != pgtype.Finite:
				return pgInfinity(v.InfinityModifier == pgtype.Infinity), nil
			}
			return renderDecimal(v.Int, -int(v.Exp)), nil
		}
	}
	// Any other binary type: its Go value as JSON.
	return func(b []byte) (string, error) {
		var v any
		if err := m.Scan(fd.DataTypeOID, fd.Format, b, &v); err != nil {
			return "", err
		}
		if t, ok := v.(time.Time); ok {
			return renderTime(t), nil
		}
		return renderJSON(v), nil
	}
}

// pgInfinity renders PostgreSQL's infinite dates, timestamps and numerics.
func pgInfinity(positive bool) string {
	if positive {
		return "infinity"
	}
	return "-infinity"
}
