package intern

import (
	"strconv"
	"testing"
)

func TestTableCodesInOrderOfFirstAppearance(t *testing.T) {
	var tb Table
	const n = 100_000
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			s := "cookie-" + strconv.Itoa(i*7919%n)
			c := tb.Code(s)
			if round == 0 && c != int32(i) {
				t.Fatalf("code of new %q = %d, want %d", s, c, i)
			}
			if got := tb.At(c); got != s {
				t.Fatalf("At(%d) = %q, want %q", c, got, s)
			}
		}
	}
	if tb.Len() != n {
		t.Fatalf("Len = %d, want %d", tb.Len(), n)
	}
	if c := tb.Lookup("cookie-absent"); c != -1 {
		t.Fatalf("Lookup of an absent string = %d", c)
	}
	if c := tb.Lookup("cookie-42"); c < 0 || tb.At(c) != "cookie-42" {
		t.Fatalf("Lookup(cookie-42) = %d", c)
	}
}

func TestEmptyStringsAndSharedBytes(t *testing.T) {
	var tb Table
	if c := tb.Code(""); c != 0 || tb.At(0) != "" {
		t.Fatalf("empty string: code %d, value %q", c, tb.At(0))
	}
	b := []byte("abc")
	c := tb.Code(string(b[:2]))
	b[0] = 'x' // the table copied the bytes
	if tb.At(c) != "ab" || tb.Code("ab") != c || tb.Code("") != 0 {
		t.Fatalf("table did not copy its strings: %q", tb.At(c))
	}
	var l List
	first := l.Add("first")
	v := l.At(first)
	for i := 0; i < 10_000; i++ { // growing the buffer leaves strings handed out intact
		l.Add("more bytes than the buffer had")
	}
	if v != "first" || l.At(first) != "first" || l.At(5000) != "more bytes than the buffer had" {
		t.Fatalf("list lost a string: %q %q", v, l.At(first))
	}
}

// TestIndexTellsEqualHashesApart: values of one hash are told apart by same; numbers
// are those of Add, found again after the table grows.
func TestIndexTellsEqualHashesApart(t *testing.T) {
	var x Index
	vals := []string{}
	for i := 0; i < 5000; i++ {
		vals = append(vals, strconv.Itoa(i))
		if n := x.Add(uint64(i % 7)); n != int32(i) { // many values per hash
			t.Fatalf("Add = %d, want %d", n, i)
		}
	}
	for i, v := range vals {
		if n := x.Find(uint64(i%7), func(n int32) bool { return vals[n] == v }); n != int32(i) || x.Hash(n) != uint64(i%7) {
			t.Fatalf("Find(%q) = %d, want %d", v, n, i)
		}
	}
	if n := x.Find(3, func(int32) bool { return false }); n != -1 {
		t.Fatalf("Find of an absent value = %d", n)
	}
}
