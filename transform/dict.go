package transform

import (
	"strconv"
	"strings"

	"github.com/zeebo/xxh3"

	"closedloop/transform/intern"
)

// dict encodes strings as int32 codes; code 0 is the empty string (null). Its strings
// live in an intern.Table: no pointer per value for the garbage collector to scan.
type dict struct{ t intern.Table }

func newDict() *dict {
	d := &dict{}
	d.t.Code("")
	return d
}

// code returns the code of s, adding it when new; a new value is copied, as s may point
// into an Arrow buffer the dictionary outlives.
func (d *dict) code(s string) int32 { return d.t.Code(s) }

// val returns the string of code c; it stays valid while the dictionary lives.
func (d *dict) val(c int32) string { return d.t.At(c) }

// lookup returns the code of s, -1 when absent.
func (d *dict) lookup(s string) int32 { return d.t.Lookup(s) }

// len is the number of codes.
func (d *dict) len() int { return d.t.Len() }

// hexID is a stable id of the warehouse: a prefix ("t_", "c_", "s_") and a hash.
func hexID(prefix string, h uint64) string { return prefix + strconv.FormatUint(h, 16) }

func hashParts(parts ...string) uint64 {
	return xxh3.HashString(strings.Join(parts, "\x00"))
}

// hasher is hashParts without an allocation per call: its buffer is reused.
type hasher struct{ buf []byte }

// start begins a hash of parts (as hashParts joins them) with first; add and addInt
// append parts; sum is the hash.
func (h *hasher) start(first string) { h.buf = append(h.buf[:0], first...) }
func (h *hasher) add(s string)       { h.buf = append(append(h.buf, 0), s...) }
func (h *hasher) addInt(n int64)     { h.buf = strconv.AppendInt(append(h.buf, 0), n, 10) }
func (h *hasher) sum() uint64        { return xxh3.Hash(h.buf) }

func (h *hasher) hash(parts ...string) uint64 {
	h.buf = h.buf[:0]
	for i, p := range parts {
		if i > 0 {
			h.buf = append(h.buf, 0)
		}
		h.buf = append(h.buf, p...)
	}
	return xxh3.Hash(h.buf)
}
