// Package paths reads aggregated attribution paths in ChannelAttribution's layout:
//
//	path;total_conversions;total_conversion_value;total_null
//	eta > iota > alpha > eta;1;0.244;3
//
// one distinct channel path per line, channels joined by " > ", with the journeys on it
// that converted, their value, and the journeys that did not. The field separator, the
// path separator and the column names are configurable; columns are found by name in
// the header, so their order does not matter and extra columns are ignored. The paths
// feed the attribution models directly (closedloop attribute), without touches,
// persons or a warehouse.
package paths

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"closedloop/extract"
	"closedloop/transform/attribution"
)

// Config says what to read.
type Config struct {
	// Spec is the source spec as the user wrote it ("paths:Data.csv"), for rejections.
	Spec string
	// Path is the file.
	Path string
	// FieldSep separates the columns; 0 means ';'.
	FieldSep rune
	// PathSep joins the channels of a path; "" means " > ".
	PathSep string
	// Columns name the four columns; empty names take ChannelAttribution's.
	Columns Columns
}

// Columns are the header names of the four columns.
type Columns struct {
	Path, Conversions, Value, Nulls string
}

// DefaultColumns are ChannelAttribution's column names.
var DefaultColumns = Columns{Path: "path", Conversions: "total_conversions", Value: "total_conversion_value", Nulls: "total_null"}

// Result is what Read found.
type Result struct {
	// Channels are the channel names; a path's codes index this slice.
	Channels []string
	// Paths are the distinct paths (lines with the same path are summed).
	Paths attribution.PathSet
	// Rejections are the lines that could not be used, with file:line and reason.
	Rejections []extract.Rejection
	// Lines is the number of data lines read.
	Lines int
}

// Code returns the code of a channel name, -1 when no path has it.
func (r *Result) Code(name string) int32 {
	for i, c := range r.Channels {
		if c == name {
			return int32(i)
		}
	}
	return -1
}

// Read reads the file of cfg. A missing file, a missing column or an unreadable
// header is an error; a bad data line is a rejection.
func Read(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.FieldSep == 0 {
		cfg.FieldSep = ';'
	}
	if cfg.PathSep == "" {
		cfg.PathSep = " > "
	}
	cols := cfg.Columns
	for _, c := range []struct {
		name *string
		def  string
	}{{&cols.Path, DefaultColumns.Path}, {&cols.Conversions, DefaultColumns.Conversions},
		{&cols.Value, DefaultColumns.Value}, {&cols.Nulls, DefaultColumns.Nulls}} {
		if *c.name == "" {
			*c.name = c.def
		}
	}
	if cfg.Spec == "" {
		cfg.Spec = "paths:" + cfg.Path
	}
	f, err := os.Open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("paths: %w (want a file of aggregated paths %s)", err, header(cols, cfg.FieldSep))
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.Comma = cfg.FieldSep
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("paths: %s:1: cannot read the header: %w (want %s)", cfg.Path, err, header(cols, cfg.FieldSep))
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	var at [4]int
	for k, name := range []string{cols.Path, cols.Conversions, cols.Value, cols.Nulls} {
		i, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("paths: %s:1: no column %q in the header %q (want %s; set the column names if yours differ)",
				cfg.Path, name, strings.Join(head, string(cfg.FieldSep)), header(cols, cfg.FieldSep))
		}
		at[k] = i
	}

	res := &Result{}
	codes := map[string]int32{}
	var ch []int32
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Rejections = append(res.Rejections, extract.Rejection{Input: cfg.Spec, Location: fmt.Sprintf("%s:%d", cfg.Path, pe.Line),
					Reason: "unreadable line: " + pe.Err.Error()})
				continue
			}
			return nil, fmt.Errorf("paths: %s: %w", cfg.Path, err)
		}
		line, _ := r.FieldPos(0) // only after a record: FieldPos panics after an error
		loc := fmt.Sprintf("%s:%d", cfg.Path, line)
		res.Lines++
		if res.Lines%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		reject := func(reason string) {
			res.Rejections = append(res.Rejections, extract.Rejection{Input: cfg.Spec, Location: loc, Reason: reason,
				Raw: extract.Cut(strings.Join(rec, string(cfg.FieldSep)))})
		}
		if len(rec) <= max(at[0], at[1], at[2], at[3]) {
			reject(fmt.Sprintf("%d fields, want at least %d (%s)", len(rec), max(at[0], at[1], at[2], at[3])+1, header(cols, cfg.FieldSep)))
			continue
		}
		var nums [3]float64
		bad := ""
		for k, name := range []string{cols.Conversions, cols.Value, cols.Nulls} {
			s := strings.TrimSpace(rec[at[k+1]])
			if s == "" {
				continue // an empty count is 0
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				bad = fmt.Sprintf("%s %q is not a number ≥ 0", name, s)
				break
			}
			nums[k] = v
		}
		if bad != "" {
			reject(bad)
			continue
		}
		if reason := extract.BadText(cols.Path, rec[at[0]]); reason != "" {
			reject(reason)
			continue
		}
		names := strings.Split(rec[at[0]], cfg.PathSep)
		for i, name := range names {
			names[i] = strings.TrimSpace(name)
			if names[i] == "" {
				bad = fmt.Sprintf("empty channel in path %q (channels are joined by %q)", rec[at[0]], cfg.PathSep)
				break
			}
		}
		if bad != "" {
			reject(bad)
			continue
		}
		if nums[0] == 0 && nums[2] == 0 {
			if nums[1] != 0 {
				reject(fmt.Sprintf("%s is %g but there are no conversions", cols.Value, nums[1]))
			}
			continue // a path nobody took carries nothing
		}
		ch = ch[:0]
		for _, name := range names {
			c, ok := codes[name]
			if !ok {
				c = int32(len(res.Channels))
				codes[name] = c
				res.Channels = append(res.Channels, name)
			}
			ch = append(ch, c)
		}
		res.Paths.Add(ch, nums[0], nums[1], nums[2])
	}
}

func header(c Columns, sep rune) string {
	return strings.Join([]string{c.Path, c.Conversions, c.Value, c.Nulls}, string(sep))
}
