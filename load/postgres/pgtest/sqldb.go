package pgtest

import (
	"database/sql"

	"closedloop/load/postgres/pgdb"
)

// OpenDB opens a *sql.DB on dsn for tests that read or write through database/sql
// (pgdb.OpenDB: TimeZone UTC).
func OpenDB(dsn string) (*sql.DB, error) { return pgdb.OpenDB(dsn, nil) }
