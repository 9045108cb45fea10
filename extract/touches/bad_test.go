package touches

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

// runAt extracts path with the run started at now, through an extracttest.Writer.
func runAt(t testing.TB, path string, now time.Time) ([]extract.Rejection, int64, Stats, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	e := New(Config{Spec: "touches:" + path, Path: path, Mem: mem, Now: now})
	err := e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c})
	return c.Rejections(), c.Rows("touches:"+path, extract.TableEvents), e.Stats(), err
}

func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}

var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// TestBadBytes: a Latin-1 byte or a NUL in a value is a rejection at its line, the
// other rows load, and no such byte reaches a batch.
func TestBadBytes(t *testing.T) {
	path := writeFile(t, t.TempDir(), "log.csv", header+"\n"+
		"c1,2018-07-01T10:00:00Z,impression,0,0.0,Facebook\n"+
		"c2,2018-07-01T10:00:00Z,impression,0,0.0,caf\xe9\n"+
		"c\x003,2018-07-01T10:00:00Z,impression,0,0.0,Email\n"+
		"c4,2018-07-01T10:00:00Z,cl\xffck,0,0.0,Email\n"+
		"c5,2018-07-01T10:00:00Z,conversion,1,2.5,Direct\n")
	rej, rows, st, err := runAt(t, path, runStart)
	require.NoError(t, err)
	require.EqualValues(t, 2, rows)
	require.Equal(t, Stats{Files: 1, Rows: 2, Rejected: 3}, st)
	want := []struct{ line, reason, raw string }{
		{"3", "channel is not valid UTF-8 (byte 0xe9 at offset 3): re-export the file as UTF-8", "c2,2018-07-01T10:00:00Z,impression,0,0.0,caf\xe9"},
		{"4", "cookie holds a NUL byte at offset 1", "c\x003,2018-07-01T10:00:00Z,impression,0,0.0,Email"},
		{"5", "interaction is not valid UTF-8 (byte 0xff at offset 2)", "c4,2018-07-01T10:00:00Z,cl\xffck,0,0.0,Email"},
	}
	require.Len(t, rej, len(want))
	for i, w := range want {
		require.Equal(t, path+":"+w.line, rej[i].Location)
		require.Contains(t, rej[i].Reason, w.reason)
		require.Equal(t, w.raw, rej[i].Raw)
	}
}

// TestPlausible: times and values outside extract's limits are rejections; an empty
// value stays null.
func TestPlausible(t *testing.T) {
	tests := []struct {
		name, row string
		reason    string // a rejection when set
	}{
		{"in range", "c,2026-12-05T05:00:00Z,conversion,1,12.5,Email", ""},
		{"clock skew", "c,2026-12-06T05:00:00Z,impression,0,0,Email", ""},
		{"empty value", "c,2026-01-01T00:00:00Z,conversion,1,,Email", ""},
		{"zero value", "c,2026-01-01T00:00:00Z,conversion,1,0,Email", ""},
		{"future", "c,9999-12-31T00:00:00Z,impression,0,0,Email", "time 9999-12-31T00:00:00Z is after the run's start (2026-12-05T06:00:00Z)"},
		{"two days ahead", "c,2026-12-07T07:00:00Z,impression,0,0,Email", "after the run's start"},
		{"epoch", "c,1970-01-01T00:00:00Z,impression,0,0,Email", "time 1970-01-01T00:00:00Z is before 2000-01-01"},
		{"epoch seconds", "c,0,impression,0,0,Email", "before 2000-01-01"},
		{"1999", "c,1999-12-31T23:59:59Z,impression,0,0,Email", "before 2000-01-01"},
		{"negative value", "c,2026-01-01T00:00:00Z,conversion,1,-5,Email", "conversion_value is negative (-5)"},
		{"huge value", "c,2026-01-01T00:00:00Z,conversion,1,1e308,Email", "conversion_value is 1e+308, above the plausible 1e+12"},
		{"overflowing value", "c,2026-01-01T00:00:00Z,conversion,1,1e400,Email", "conversion_value is +Inf, not a number"},
		{"infinite value", "c,2026-01-01T00:00:00Z,conversion,1,-Inf,Email", "conversion_value is -Inf, not a number"},
		{"huge value without a conversion", "c,2026-01-01T00:00:00Z,impression,0,1e13,Email", "above the plausible"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("%d.csv", i), header+"\n"+tt.row+"\n")
			rej, rows, _, err := runAt(t, path, runStart)
			require.NoError(t, err)
			if tt.reason == "" {
				require.Empty(t, rej)
				require.EqualValues(t, 1, rows)
				return
			}
			require.Zero(t, rows)
			require.Len(t, rej, 1)
			require.Equal(t, path+":2", rej[0].Location)
			require.Contains(t, rej[0].Reason, tt.reason)
		})
	}
	// An empty conversion_value is null, not 0.
	got, rej := run(t, writeFile(t, dir, "empty.csv", header+"\nc,2026-01-01T00:00:00Z,conversion,1,,Email\n"))
	require.Empty(t, rej)
	require.Nil(t, got[0]["conversion_value"])
}

// TestNowDefault: a Config without Now takes the time of New.
func TestNowDefault(t *testing.T) {
	before := time.Now()
	e := New(Config{Path: "x.csv"})
	require.False(t, e.cfg.Now.Before(before))
	require.False(t, e.cfg.Now.After(time.Now()))
}

// TestHeaderOnly: a file holding its header alone reads without error, and Stats and
// the Collector's row count say it held no row; an empty file is an error.
func TestHeaderOnly(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.csv", header+"\r\n")
	writeFile(t, dir, "b.csv", header+"\nc,2026-01-01T00:00:00Z,impression,0,0,Email\nc,yesterday,impression,0,0,Email\n")
	rej, rows, st, err := runAt(t, filepath.Join(dir, "a.csv"), runStart)
	require.NoError(t, err)
	require.Empty(t, rej)
	require.Zero(t, rows)
	require.Equal(t, Stats{Files: 1}, st)

	rej, rows, st, err = runAt(t, filepath.Join(dir, "*.csv"), runStart)
	require.NoError(t, err)
	require.Len(t, rej, 1)
	require.EqualValues(t, 1, rows)
	require.Equal(t, Stats{Files: 2, Rows: 1, Rejected: 1}, st)

	writeFile(t, dir, "c.csv", "")
	_, _, _, err = runAt(t, filepath.Join(dir, "c.csv"), runStart)
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "empty file")
}

// TestBadFileName: a file name that is not UTF-8 would be every row's location: it is
// a configuration error, not a run that fails at the warehouse.
func TestBadFileName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "caf\xe9.csv")
	if err := os.WriteFile(path, []byte(header+"\n"), 0o644); err != nil {
		t.Skip("the file system refuses the name:", err)
	}
	_, _, _, err := runAt(t, filepath.Join(dir, "*.csv"), runStart)
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "is not UTF-8: rename the file")
}

// badCorpus are touch logs holding bytes no warehouse stores, in every column.
func badCorpus() []string {
	var out []string
	bad := []string{"\xe9", "\x00", "\xff\xfe", "\xc3", "\xed\xa0\x80", "a\x00b", "\"q\x00\""}
	for _, b := range bad {
		for col := range nHeader {
			row := []string{"cookie1", "2026-01-05T10:00:00Z", "conversion", "1", "3.5", "Paid Search"}
			row[col] = row[col][:len(row[col])/2] + b + row[col][len(row[col])/2:]
			out = append(out, header+"\n"+strings.Join(row, ",")+"\n")
		}
	}
	out = append(out,
		header+"\n\"multi\nline\x00\",2026-01-05T10:00:00Z,impression,0,0,Email\n",
		"\xef\xbb\xbfcookie,time,channel\nc\xe9,2026-01-05,Email\r\nc,2026-01-05,\xe9\r\n",
		"cookie,time,channel,note\xe9\nc,2026-01-05,Email,x\xff\n",
	)
	return out
}

// TestNoBadTextReachesWriter feeds the bad corpus to the extractor: every batch holds
// storable strings only, and every line is a row or a rejection.
func TestNoBadTextReachesWriter(t *testing.T) {
	dir := t.TempDir()
	for i, data := range badCorpus() {
		path := writeFile(t, dir, fmt.Sprintf("bad%d.csv", i), data)
		rej, rows, st, err := runAt(t, path, runStart)
		require.NoError(t, err, "%q", data)
		require.EqualValues(t, st.Rows, rows)
		require.Len(t, rej, int(st.Rejected))
		require.EqualValues(t, records(t, []byte(data)), st.Rows+st.Rejected, "%q", data)
	}
}

// records counts what one encoding/csv reader makes of data after its header: every
// record or broken record is one row or rejection of the extractor.
func records(t testing.TB, data []byte) int64 {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	if _, err := r.Read(); err != nil {
		return 0
	}
	body := csv.NewReader(bytes.NewReader(data[r.InputOffset():]))
	body.FieldsPerRecord = -1
	var n int64
	for {
		_, err := body.Read()
		if err == io.EOF {
			return n
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("reading %q: %v", data, err)
		}
		n++
	}
}

// extractAll reads path with blocks of about size bytes and returns the events table
// as rows and the rejections; err when the file is refused whole.
func extractAll(t *testing.T, path string, size int) ([]map[string]any, []extract.Rejection, Stats, error) {
	t.Helper()
	defer func(n int) { blockSize = n }(blockSize)
	blockSize = size
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	e := New(Config{Spec: "touches:" + path, Path: path, Mem: mem, Now: runStart})
	if err := e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c}); err != nil {
		return nil, nil, e.Stats(), err
	}
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	return rows(t, tbl), c.Rejections(), e.Stats(), nil
}

// TestBlocksBrokenQuotes: quotes that break the CSV grammar (a bare quote in a field,
// text after a closing quote) do not make the blocks cut a record that one reader
// reads whole: the blocks end where encoding/csv ends a record.
func TestBlocksBrokenQuotes(t *testing.T) {
	data := header + "\n" +
		"a\"b,2026-01-05T10:00:00Z,impression,0,0,Email\n" + // a bare quote: the line is rejected
		"\"c\nd\",2026-01-05T10:00:00Z,impression,0,0,Email\n" + // a quoted line break after it
		"\"e\"x,2026-01-05T10:00:00Z,impression,0,0,Email\n" + // text after the closing quote
		"\"f\"\r\n" +
		"\"g\"\"\n\"\"\",2026-01-05T10:00:00Z,impression,0,0,\"Paid\r\nSearch\"\r\n" +
		"\"h\"\rx,2026-01-05T10:00:00Z,impression,0,0,Email\n" +
		"i,2026-01-05T10:00:00Z,\"imp\"\"ression\",0,0,\"E\"mail\n" +
		"\"j\n\nk\",2026-01-05T10:00:00Z,impression,0,0,Email\n" +
		"l,2026-01-05T10:00:00Z,impression,0,0,Email"
	path := writeFile(t, t.TempDir(), "log.csv", data)
	whole, wholeRej, st, err := extractAll(t, path, 4<<20)
	require.NoError(t, err)
	require.Equal(t, records(t, []byte(data)), st.Rows+st.Rejected)
	require.Len(t, whole, 4, "%v", wholeRej)
	require.Equal(t, "c\nd", whole[0]["anonymous_id"])
	for size := 1; size < 40; size++ {
		cut, cutRej, _, err := extractAll(t, path, size)
		require.NoError(t, err)
		require.Equal(t, whole, cut, "blocks of %d bytes", size)
		require.Equal(t, wholeRej, cutRej, "blocks of %d bytes", size)
	}
}

// TestBlankLinesBeforeHeader: blank lines before the header are skipped, as one
// reader skips them, however small the blocks.
func TestBlankLinesBeforeHeader(t *testing.T) {
	path := writeFile(t, t.TempDir(), "log.csv", "\n\r\n\ncookie,time,channel\nc,2026-01-05,Email\n")
	for _, size := range []int{4 << 20, 1, 3} {
		got, rej, _, err := extractAll(t, path, size)
		require.NoError(t, err, "blocks of %d bytes", size)
		require.Empty(t, rej)
		require.Len(t, got, 1)
		require.Equal(t, path+":5", got[0]["location"])
	}
}

// FuzzParse reads arbitrary bytes as a touch log: go test -run '^$' -fuzz FuzzParse
// ./extract/touches. It must not panic; what it writes must be storable; every
// rejection has a location and a reason; every record after the header is a row or
// a rejection, each at a line of its own; and blocks of a few bytes give what one
// reader of the whole file gives.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/log.csv", "testdata/messy.csv", "testdata/nochannel.csv"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, c := range badCorpus() {
		f.Add([]byte(c))
	}
	f.Add([]byte(header + "\nc,9999-12-31T00:00:00Z,conversion,1,-1,Email\nc,1970-01-01,conversion,1,1e400,Email\n"))
	f.Add([]byte(header + "\n\"c,2026-01-05,impression,0,0,Email\n"))
	f.Add([]byte(header + "\na\"b,2026-01-05,impression,0,0,Email\n\"c\nd\",2026-01-05,impression,0,0,Email\n"))
	dir := f.TempDir()
	var n int
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		path := filepath.Join(dir, "f"+strconv.Itoa(n)+".csv")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		defer os.Remove(path)
		got, rej, st, err := extractAll(t, path, 4<<20)
		if err != nil {
			return // a file refused whole (no header, gzip magic) is an error, not a panic
		}
		require.Len(t, rej, int(st.Rejected))
		require.Len(t, got, int(st.Rows))
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) { // else read as gzip: the records are not those of data
			require.Equal(t, records(t, data), st.Rows+st.Rejected)
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		var locs []string
		for _, r := range got {
			locs = append(locs, r["location"].(string))
		}
		for _, r := range rej {
			locs = append(locs, r.Location)
		}
		seen := map[int]bool{}
		for _, l := range locs {
			n, err := strconv.Atoi(strings.TrimPrefix(l, path+":"))
			require.NoError(t, err, l)
			require.True(t, n >= 2 && n <= lines, "%s: line %d of %d", l, n, lines)
			require.False(t, seen[n], "two records at %s", l)
			seen[n] = true
		}
		size := 1 + len(data)%23
		cut, cutRej, _, err := extractAll(t, path, size)
		require.NoError(t, err)
		require.Equal(t, got, cut, "blocks of %d bytes", size)
		require.Equal(t, rej, cutRej, "blocks of %d bytes", size)
	})
}
