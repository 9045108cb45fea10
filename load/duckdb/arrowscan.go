//go:build !duckdb_arrow

package duckdb

/*
#include <stdlib.h>
#include <stdint.h>

// From duckdb.h (DuckDB 1.5, the engine duckdb-go v2.10506.0 links): the Arrow stream
// scan of the C API, present in the library whatever duckdb-go's build tags.
typedef void *duckdb_connection;
typedef void *duckdb_arrow_stream;
typedef enum { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
duckdb_state duckdb_arrow_scan(duckdb_connection connection, const char *table_name, duckdb_arrow_stream arrow);

struct ArrowArrayStream { void *get_schema, *get_next, *get_last_error, *release, *private_data; };
*/
import "C"

import (
	"errors"
	"reflect"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// registerView makes the rows of reader a single-pass view called name on the
// connection dc (a *duckdb.Conn), through the C API's duckdb_arrow_scan: DuckDB reads the
// Arrow buffers in place. duckdb-go offers this only with its duckdb_arrow build tag;
// without it the connection's C handle is read from the pinned duckdb-go's Conn (its
// first field, checked here by name and type), so that a plain `go build` gets the fast
// path too. release frees the stream after the query that reads the view.
func registerView(dc any, reader array.RecordReader, name string) (release func(), err error) {
	conn, ok := dc.(*duckdb.Conn)
	if !ok {
		return nil, errNoArrowScan
	}
	f := reflect.ValueOf(conn).Elem().FieldByName("conn")
	if !f.IsValid() || f.Kind() != reflect.Struct || f.NumField() != 1 || f.Type().Field(0).Type.Kind() != reflect.UnsafePointer {
		return nil, errNoArrowScan // duckdb-go's Conn changed: the appender will do
	}
	handle := *(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	if handle == nil {
		return nil, errors.New("duckdb: connection closed")
	}
	stream := C.calloc(1, C.sizeof_struct_ArrowArrayStream)
	release = func() {
		cdata.ReleaseCArrowArrayStream((*cdata.CArrowArrayStream)(stream))
		C.free(stream)
	}
	cdata.ExportRecordReader(reader, (*cdata.CArrowArrayStream)(stream))
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if C.duckdb_arrow_scan(C.duckdb_connection(handle), cname, C.duckdb_arrow_stream(stream)) != C.DuckDBSuccess {
		release()
		return nil, errors.New("duckdb: arrow scan of " + name + " failed")
	}
	return release, nil
}
