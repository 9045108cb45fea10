package tablestest

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"closedloop/extract/ga4/bqstorage/bqfake"
	"closedloop/extract/tables"
)

// Project is the project of every BigQuery dataset a load serves.
const Project = "tablestest-project"

var datasets atomic.Int64

// loadBigQuery serves the tables of the DuckDB file path as a dataset of a fake
// BigQuery, until t ends.
func loadBigQuery(t testing.TB, path string) DB {
	t.Helper()
	dataset := fmt.Sprintf("tablestest_%d", datasets.Add(1))
	fake := bqfake.Start(t, bqfake.Config{Project: Project, Dataset: dataset})
	duck := openDuck(t, path)
	defer duck.Close()
	names, cols := duckTables(t, duck)
	mem := memory.NewGoAllocator()
	for _, name := range names {
		rec := arrowTable(t, mem, duck, name, cols[name])
		// Two streams, as BigQuery splits a table, in responses of 1,000 rows.
		fake.AddTable(name, bqfake.Table{Record: rec, Streams: 2, PerResp: 1000, Filter: filter})
		rec.Release()
	}
	return DB{
		Location:     "bigquery://" + Project + "/" + dataset,
		Options:      tables.Options{Endpoint: fake.RESTEndpoint, ReadEndpoint: fake.Endpoint},
		Restrictions: fake.Restrictions,
	}
}

// arrowField is the Arrow field the Storage Read API sends for the BigQuery column a
// connector makes of a DuckDB type: INT64, FLOAT64, BOOL, DATE, TIMESTAMP (timestamp
// without zone too: connectors load UTC times as TIMESTAMP), NUMERIC
// (decimal128(38, 9)) or BIGNUMERIC (decimal256(76, 38)) by precision and scale,
// STRING for the rest.
func arrowField(c column) arrow.Field {
	f := arrow.Field{Name: c.name, Nullable: true, Type: arrow.BinaryTypes.String}
	switch c.typ {
	case "BOOLEAN":
		f.Type = arrow.FixedWidthTypes.Boolean
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER":
		f.Type = arrow.PrimitiveTypes.Int64
	case "FLOAT", "DOUBLE":
		f.Type = arrow.PrimitiveTypes.Float64
	case "DATE":
		f.Type = arrow.FixedWidthTypes.Date32
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE":
		f.Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	var p, s int
	if _, err := fmt.Sscanf(c.typ, "DECIMAL(%d,%d)", &p, &s); err == nil {
		f.Type = &arrow.Decimal128Type{Precision: 38, Scale: 9}
		if s > 9 || p-s > 29 {
			f.Type = &arrow.Decimal256Type{Precision: 76, Scale: 38}
		}
	}
	return f
}

// arrowTable reads table name of duck into one record.
func arrowTable(t testing.TB, mem memory.Allocator, duck *sql.DB, name string, cols []column) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrowField(c)
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rows, err := duck.Query(selectAll(name, cols, func(typ string) bool {
		return arrowField(column{typ: typ}).Type.ID() != arrow.STRING
	}))
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("tablestest: %v", err)
		}
		for i, v := range vals {
			if err := appendValue(b.Field(i), v); err != nil {
				t.Fatalf("tablestest: table %s column %s: %v", name, cols[i].name, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	return b.NewRecordBatch()
}

func appendValue(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(fmt.Sprint(v))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int64Builder:
		n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		if err != nil {
			return err
		}
		b.Append(n)
	case *array.Float64Builder:
		switch v := v.(type) {
		case float32:
			// Its shortest decimal form, as BigQuery's FLOAT64 would hold it when loaded.
			f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
			b.Append(f)
		case float64:
			b.Append(v)
		default:
			return fmt.Errorf("%T is not a float", v)
		}
	case *array.Date32Builder:
		b.Append(arrow.Date32FromTime(v.(time.Time)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	case *array.Decimal128Builder:
		d := v.(duckdb.Decimal)
		n, err := decimal128.FromBigInt(rescale(d, 9)), error(nil)
		if err != nil {
			return err
		}
		b.Append(n)
	case *array.Decimal256Builder:
		b.Append(decimal256.FromBigInt(rescale(v.(duckdb.Decimal), 38)))
	default:
		return fmt.Errorf("no builder for %T", b)
	}
	return nil
}

// rescale is d's unscaled value at scale.
func rescale(d duckdb.Decimal, scale int) *big.Int {
	f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-int(d.Scale))), nil)
	return new(big.Int).Mul(d.Value, f)
}

// The row restrictions package tables sends (bqRestriction there): a range of a
// DATE, or a half-open range of a TIMESTAMP, DATETIME or STRING.
var (
	betweenRE = regexp.MustCompile("^`([^`]+)` BETWEEN DATE '([^']+)' AND DATE '([^']+)'$")
	rangeRE   = regexp.MustCompile("^`([^`]+)` >= (TIMESTAMP |DATETIME )?'([^']+)' AND `([^`]+)` < (TIMESTAMP |DATETIME )?'([^']+)'$")
)

// filter applies a row restriction as BigQuery would, for the forms package tables
// sends; any other is an error.
func filter(restriction string, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	// bqstorage parenthesizes a restriction before ANDing it with others.
	if strings.HasPrefix(restriction, "(") && strings.HasSuffix(restriction, ")") {
		restriction = restriction[1 : len(restriction)-1]
	}
	var col, lo, hi string
	inclusive := false
	if m := betweenRE.FindStringSubmatch(restriction); m != nil {
		col, lo, hi, inclusive = m[1], m[2], m[3], true
	} else if m := rangeRE.FindStringSubmatch(restriction); m != nil && m[1] == m[4] && m[2] == m[5] {
		col, lo, hi = m[1], m[3], m[6]
	} else {
		return nil, fmt.Errorf("tablestest's fake understands only the restrictions package tables sends")
	}
	idx := rec.Schema().FieldIndices(col)
	if len(idx) != 1 {
		return nil, fmt.Errorf("unrecognized name: %s", col)
	}
	a := rec.Column(idx[0])
	var key func(i int) string
	switch a := a.(type) {
	case *array.Date32:
		key = func(i int) string { return a.Value(i).ToTime().Format(time.DateOnly) }
	case *array.Timestamp:
		key = func(i int) string {
			return a.Value(i).ToTime(arrow.Microsecond).UTC().Format("2006-01-02 15:04:05.000000")
		}
	case *array.String:
		key = a.Value
	default:
		return nil, fmt.Errorf("column %s is %s", col, a.DataType())
	}
	lo, hi = strings.TrimSuffix(lo, "+00"), strings.TrimSuffix(hi, "+00")
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	for i := 0; i < a.Len(); i++ {
		k := key(i)
		mask.Append(a.IsValid(i) && k >= lo && (k < hi || inclusive && k <= hi))
	}
	m := mask.NewBooleanArray()
	defer m.Release()
	return compute.FilterRecordBatch(context.Background(), rec, m, compute.DefaultFilterOptions())
}
