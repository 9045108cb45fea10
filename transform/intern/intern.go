// Package intern keeps many strings in one byte buffer, with no pointer per string:
// the garbage collector never scans them, however many there are. A run holds a
// string per cookie, identifier and person (millions); as Go strings and map keys
// every collection would walk them all.
package intern

import (
	"unsafe"

	"github.com/zeebo/xxh3"
)

// List is an append-only list of strings. The zero List is empty and ready.
type List struct {
	data []byte
	ends []uint64 // ends[i] is where string i ends in data
}

// Add appends s (its bytes are copied) and returns its index.
func (l *List) Add(s string) int32 {
	l.data = append(l.data, s...)
	l.ends = append(l.ends, uint64(len(l.data)))
	return int32(len(l.ends) - 1)
}

// At returns string i. It shares the list's memory and stays valid for as long as
// it is referenced (the list never writes bytes it handed out).
func (l *List) At(i int32) string {
	start := uint64(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	end := l.ends[i]
	if end == start {
		return ""
	}
	return unsafe.String(&l.data[start], int(end-start))
}

// Len is the number of strings.
func (l *List) Len() int { return len(l.ends) }

// Table numbers distinct strings: codes 0, 1, 2... in order of first appearance.
// The zero Table is empty and ready.
type Table struct {
	List
	hashes []uint64 // by code
	slots  []int32  // code+1 (0 = free), open addressing; len is a power of two
}

// Code returns the code of s, adding it when new (its bytes are copied).
func (t *Table) Code(s string) int32 {
	h := xxh3.HashString(s)
	if c := t.find(s, h); c >= 0 {
		return c
	}
	if 2*(t.Len()+1) > len(t.slots) {
		t.grow()
	}
	c := t.Add(s)
	t.hashes = append(t.hashes, h)
	t.place(c, h)
	return c
}

// Lookup returns the code of s, -1 when absent.
func (t *Table) Lookup(s string) int32 { return t.find(s, xxh3.HashString(s)) }

func (t *Table) find(s string, h uint64) int32 {
	if len(t.slots) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		c := t.slots[i] - 1
		if c < 0 {
			return -1
		}
		if t.hashes[c] == h && t.At(c) == s {
			return c
		}
	}
}

func (t *Table) place(c int32, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = c + 1
}

func (t *Table) grow() {
	t.slots = make([]int32, max(16, 2*len(t.slots)))
	for c, h := range t.hashes {
		t.place(int32(c), h)
	}
}
