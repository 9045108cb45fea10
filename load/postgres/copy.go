package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// source is a pgx.CopyFromSource over columns of an Arrow table, one record batch at a
// time. Values returns the same slice for every row: each entry is a cursor on one
// column that reads the current row when pgx encodes it (through pgtype's valuer
// interfaces: TextValuer, Int64Valuer, ...), so no value is copied or boxed per row.
type source struct {
	ctx  context.Context
	tr   *array.TableReader
	cols []int // columns of the table, in COPY order
	rec  arrow.RecordBatch
	row  int // current row of rec
	n    int // rows of rec
	vals []any
	curs []setter
	err  error
	rows int64
}

var _ pgx.CopyFromSource = (*source)(nil)

// setter is a column cursor: set points it at a column of the current batch.
type setter interface{ set(arrow.Array) }

// newSource reads columns cols of t; the caller calls release when COPY is done.
func newSource(ctx context.Context, t arrow.Table, cols []int) (*source, error) {
	s := &source{ctx: ctx, tr: array.NewTableReader(t, 0), cols: cols}
	for _, c := range cols {
		var cur setter
		switch dt := t.Schema().Field(c).Type; dt.ID() {
		case arrow.STRING:
			cur = &textCol{row: &s.row}
		case arrow.INT64:
			cur = &int8Col{row: &s.row}
		case arrow.FLOAT64:
			cur = &float8Col{row: &s.row}
		case arrow.BOOL:
			cur = &boolCol{row: &s.row}
		case arrow.DATE32:
			cur = &dateCol{row: &s.row}
		case arrow.TIMESTAMP:
			if u := dt.(*arrow.TimestampType).Unit; u != arrow.Microsecond {
				s.release()
				return nil, fmt.Errorf("column %s: timestamp unit %s, want us", t.Schema().Field(c).Name, u)
			}
			cur = &tsCol{row: &s.row}
		default:
			s.release()
			return nil, fmt.Errorf("column %s: no PostgreSQL type for Arrow %s", t.Schema().Field(c).Name, dt)
		}
		s.curs = append(s.curs, cur)
		s.vals = append(s.vals, cur)
	}
	return s, nil
}

func (s *source) release() { s.tr.Release() }

// Next moves to the next row, reading the next non-empty batch when one is done.
func (s *source) Next() bool {
	s.row++
	for s.row >= s.n {
		if !s.tr.Next() {
			s.err = s.tr.Err()
			return false
		}
		s.rec = s.tr.RecordBatch()
		s.row, s.n = 0, int(s.rec.NumRows())
		for i, c := range s.cols {
			s.curs[i].set(s.rec.Column(c))
		}
	}
	if s.rows%8192 == 0 {
		if err := s.ctx.Err(); err != nil {
			s.err = err
			return false
		}
	}
	s.rows++
	return true
}

// Values returns the row: the column cursors, which pgx reads as it encodes.
func (s *source) Values() ([]any, error) { return s.vals, nil }

// Err is the error that stopped Next, if any.
func (s *source) Err() error { return s.err }

type textCol struct {
	a   *array.String
	row *int
}

func (c *textCol) set(a arrow.Array) { c.a = a.(*array.String) }
func (c *textCol) TextValue() (pgtype.Text, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Text{}, nil
	}
	return pgtype.Text{String: c.a.Value(*c.row), Valid: true}, nil
}

type int8Col struct {
	a   *array.Int64
	row *int
}

func (c *int8Col) set(a arrow.Array) { c.a = a.(*array.Int64) }
func (c *int8Col) Int64Value() (pgtype.Int8, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Int8{}, nil
	}
	return pgtype.Int8{Int64: c.a.Value(*c.row), Valid: true}, nil
}

type float8Col struct {
	a   *array.Float64
	row *int
}

func (c *float8Col) set(a arrow.Array) { c.a = a.(*array.Float64) }
func (c *float8Col) Float64Value() (pgtype.Float8, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Float8{}, nil
	}
	return pgtype.Float8{Float64: c.a.Value(*c.row), Valid: true}, nil
}

type boolCol struct {
	a   *array.Boolean
	row *int
}

func (c *boolCol) set(a arrow.Array) { c.a = a.(*array.Boolean) }
func (c *boolCol) BoolValue() (pgtype.Bool, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Bool{}, nil
	}
	return pgtype.Bool{Bool: c.a.Value(*c.row), Valid: true}, nil
}

type dateCol struct {
	a   *array.Date32
	row *int
}

func (c *dateCol) set(a arrow.Array) { c.a = a.(*array.Date32) }
func (c *dateCol) DateValue() (pgtype.Date, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Date{}, nil
	}
	return pgtype.Date{Time: c.a.Value(*c.row).ToTime(), Valid: true}, nil
}

// tsCol reads timestamp[us] values; PostgreSQL stores timestamptz as UTC microseconds,
// so the instant goes in unchanged whatever the session's TimeZone.
type tsCol struct {
	a   *array.Timestamp
	row *int
}

func (c *tsCol) set(a arrow.Array) { c.a = a.(*array.Timestamp) }
func (c *tsCol) TimestamptzValue() (pgtype.Timestamptz, error) {
	if c.a.IsNull(*c.row) {
		return pgtype.Timestamptz{}, nil
	}
	return pgtype.Timestamptz{Time: time.UnixMicro(int64(c.a.Value(*c.row))).UTC(), Valid: true}, nil
}
