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

// Index numbers values by their 64-bit hashes: numbers 0, 1, 2... in order of Add,
// found again by hash through a table of numbers probed linearly (8 bytes a value
// where a map takes about 30, and nothing for the garbage collector to scan). The
// zero Index is empty and ready.
type Index struct {
	hashes []uint64 // by number
	slots  []int32  // number+1 (0 = free); len is a power of two
}

// Find returns the number of the value of hash h for which same(number) holds, -1
// when none has.
func (x *Index) Find(h uint64, same func(n int32) bool) int32 {
	if len(x.slots) == 0 {
		return -1
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		n := x.slots[i] - 1
		if n < 0 {
			return -1
		}
		if x.hashes[n] == h && same(n) {
			return n
		}
	}
}

// Add numbers a new value of hash h.
func (x *Index) Add(h uint64) int32 {
	if 2*(len(x.hashes)+1) > len(x.slots) {
		x.slots = make([]int32, max(16, 2*len(x.slots)))
		for n, hn := range x.hashes {
			x.place(int32(n), hn)
		}
	}
	n := int32(len(x.hashes))
	x.hashes = append(x.hashes, h)
	x.place(n, h)
	return n
}

// Hash is the hash of value n.
func (x *Index) Hash(n int32) uint64 { return x.hashes[n] }

func (x *Index) place(n int32, h uint64) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = n + 1
}

// Table numbers distinct strings: codes 0, 1, 2... in order of first appearance.
// The zero Table is empty and ready.
type Table struct {
	List
	idx Index
}

// Code returns the code of s, adding it when new (its bytes are copied).
func (t *Table) Code(s string) int32 {
	h := xxh3.HashString(s)
	if c := t.find(s, h); c >= 0 {
		return c
	}
	t.Add(s)
	return t.idx.Add(h)
}

// Lookup returns the code of s, -1 when absent.
func (t *Table) Lookup(s string) int32 { return t.find(s, xxh3.HashString(s)) }

func (t *Table) find(s string, h uint64) int32 {
	return t.idx.Find(h, func(c int32) bool { return t.At(c) == s })
}
