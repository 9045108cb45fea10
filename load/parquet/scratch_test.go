package parquet

import (
	"testing"
	_ "github.com/apache/arrow-go/v18/parquet/compress"
	_ "github.com/apache/arrow-go/v18/parquet/compress"
	_ "github.com/apache/arrow-go/v18/parquet/compress"
	_ "github.com/duckdb/duckdb-go/v2"
)

func TestScratch(t *testing.T) {}
