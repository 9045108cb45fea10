package touches

import (
	"bytes"
	"io"
	"slices"
)

// cutter reads a CSV file in blocks of whole records, about blockSize bytes each: a
// block ends at a line end that ends a record as encoding/csv reads it (not one in a
// quoted field), so that a quoted field's line breaks never split a record.
type cutter struct {
	r    io.Reader
	rest []byte // read past the last block's end
	eof  bool
	st   csvState // at the end of what next has looked at
}

// csvState is where encoding/csv's grammar stands at a byte, as far as record ends go.
type csvState uint8

const (
	atField  csvState = iota // at the start of a field: a quote opens a quoted field
	unquoted                 // in a field without quotes: a quote is a bare quote
	quoted                   // in a quoted field: a line end is part of the field
	quote                    // after a quote in a quoted field
	quoteCR                  // after a quote and a carriage return
	broken                   // after a syntax error: encoding/csv drops the rest of the line
)

// next returns the next block; io.EOF after the last.
func (c *cutter) next() ([]byte, error) {
	buf := make([]byte, 0, len(c.rest)+blockSize)
	buf = append(buf, c.rest...)
	c.rest = nil
	c.st = atField
	scanned := 0 // bytes of buf looked at for the cut
	end := -1    // the last record end in buf
	for {
		if !c.eof && len(buf) < cap(buf) {
			n, err := io.ReadFull(c.r, buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				c.eof = true
			} else if err != nil {
				return nil, err
			}
		}
		if c.eof {
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, nil
		}
		if e := c.scan(buf[scanned:]); e >= 0 {
			end = scanned + e
		}
		scanned = len(buf)
		if end >= 0 {
			c.rest = append([]byte(nil), buf[end+1:]...)
			return buf[:end+1], nil
		}
		buf = slices.Grow(buf, blockSize) // one record longer than a block: read on
	}
}

// scan moves c.st over b and returns the offset in b of its last line end that ends
// a record, -1 for none. Quotes are rare: the bytes between them are skipped with
// IndexByte.
func (c *cutter) scan(b []byte) int {
	end := -1
	for i := 0; i < len(b); {
		switch c.st {
		case atField, unquoted:
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				if j := bytes.LastIndexByte(b[i:], '\n'); j >= 0 {
					end = i + j
				}
				if last := b[len(b)-1]; last == '\n' || last == ',' {
					c.st = atField
				} else {
					c.st = unquoted
				}
				return end
			}
			q += i
			if j := bytes.LastIndexByte(b[i:q], '\n'); j >= 0 {
				end = i + j
			}
			if q > i && (b[q-1] == ',' || b[q-1] == '\n') || q == i && c.st == atField {
				c.st = quoted
			} else {
				c.st = broken
			}
			i = q + 1
		case quoted:
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				return end
			}
			c.st = quote
			i += q + 1
		case quote, quoteCR:
			switch ch := b[i]; {
			case ch == '"' && c.st == quote:
				c.st = quoted
			case ch == ',' && c.st == quote:
				c.st = atField
			case ch == '\r' && c.st == quote:
				c.st = quoteCR
			case ch == '\n':
				end = i
				c.st = atField
			default:
				c.st = broken
				continue // the byte may end the line
			}
			i++
		case broken:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return end
			}
			end = i + j
			c.st = atField
			i += j + 1
		}
	}
	return end
}
