package tablestest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"closedloop/load/postgres/pgtest"
)

// server is the PostgreSQL server of the test process, started by the first load.
// It is not stopped by the tests: pgtest's watchdog stops it and removes its files
// when the process ends.
var server struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
	n    atomic.Int64 // schemas made
}

// loadPostgres copies the tables of the DuckDB file path into a new schema.
func loadPostgres(t testing.TB, path string) DB {
	t.Helper()
	server.once.Do(func() { server.srv, server.err = pgtest.StartServer() })
	if errors.Is(server.err, pgtest.ErrUnavailable) && os.Getenv("CLOSEDLOOP_REQUIRE_POSTGRES") != "1" {
		t.Skipf("%v (set CLOSEDLOOP_REQUIRE_POSTGRES=1 to fail instead)", server.err)
	}
	if server.err != nil {
		t.Fatalf("tablestest: %v", server.err)
	}
	ctx := context.Background()
	dsn := server.srv.DSN()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("tablestest_%d", server.n.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	duck := openDuck(t, path)
	defer duck.Close()
	names, cols := duckTables(t, duck)
	for _, name := range names {
		defs := make([]string, len(cols[name]))
		colNames := make([]string, len(cols[name]))
		for i, c := range cols[name] {
			defs[i] = quoteIdent(c.name) + " " + pgType(c.typ)
			colNames[i] = c.name
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s (%s)", schema, quoteIdent(name), strings.Join(defs, ", "))); err != nil {
			t.Fatalf("tablestest: table %s: %v", name, err)
		}
		rows, err := duck.Query(selectAll(name, cols[name], pgNative))
		if err != nil {
			t.Fatalf("tablestest: %v", err)
		}
		var data [][]any
		for rows.Next() {
			vals := make([]any, len(cols[name]))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("tablestest: %v", err)
			}
			for i, v := range vals {
				vals[i] = pgValue(v, cols[name][i].typ)
			}
			data = append(data, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("tablestest: %v", err)
		}
		rows.Close()
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, name}, colNames, pgx.CopyFromRows(data)); err != nil {
			t.Fatalf("tablestest: copying table %s: %v", name, err)
		}
	}
	return DB{Location: dsn + "&schema=" + schema}
}

// pgType is the PostgreSQL type of a DuckDB type.
func pgType(typ string) string {
	switch typ {
	case "BOOLEAN":
		return "boolean"
	case "TINYINT", "SMALLINT", "UTINYINT":
		return "smallint"
	case "INTEGER", "USMALLINT":
		return "integer"
	case "BIGINT", "UINTEGER":
		return "bigint"
	case "HUGEINT", "UBIGINT", "UHUGEINT":
		return "numeric"
	case "FLOAT":
		return "real"
	case "DOUBLE":
		return "double precision"
	case "DATE":
		return "date"
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return "timestamp"
	case "TIMESTAMP WITH TIME ZONE":
		return "timestamptz"
	case "UUID":
		return "uuid"
	case "JSON":
		return "jsonb"
	}
	if strings.HasPrefix(typ, "DECIMAL") {
		return "numeric" + strings.TrimPrefix(typ, "DECIMAL")
	}
	return "text"
}

// pgNative are the DuckDB types copied as their Go values; the others as text.
func pgNative(typ string) bool { return pgType(typ) != "text" && typ != "JSON" && typ != "UUID" }

// pgValue is a DuckDB driver value as pgx encodes it into pgType(typ).
func pgValue(v any, typ string) any {
	switch v := v.(type) {
	case duckdb.Decimal:
		return pgtype.Numeric{Int: v.Value, Exp: -int32(v.Scale), Valid: true}
	case *big.Int:
		return pgtype.Numeric{Int: v, Valid: true}
	case uint64:
		return pgtype.Numeric{Int: new(big.Int).SetUint64(v), Valid: true}
	case time.Time:
		return v
	case []byte:
		if typ == "UUID" && len(v) == 16 {
			return pgtype.UUID{Bytes: [16]byte(v), Valid: true}
		}
	case string:
		if typ == "JSON" {
			return json.RawMessage(v)
		}
		if typ == "UUID" {
			b, err := hex.DecodeString(strings.ReplaceAll(v, "-", ""))
			if err == nil && len(b) == 16 {
				return pgtype.UUID{Bytes: [16]byte(b), Valid: true}
			}
		}
	}
	return v
}
