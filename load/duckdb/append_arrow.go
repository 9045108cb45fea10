//go:build duckdb_arrow

package duckdb

import (
	"database/sql/driver"

	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// registerView registers reader as the single-pass view name on dc through
// duckdb-go's Arrow interface (this build has its duckdb_arrow tag).
func registerView(dc any, reader array.RecordReader, name string) (func(), error) {
	ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
	if err != nil {
		return nil, err
	}
	return ar.RegisterView(reader, name)
}
