package touches

import (
	"io"
	"slices"
)

// cutter reads a CSV file in blocks of whole records, about blockSize bytes each: a
// block ends at a line end outside quotes (an even number of quote characters before
// it), so that a quoted field's line breaks never split a record.
type cutter struct {
	r    io.Reader
	rest []byte // read past the last block's end
	eof  bool
}

// next returns the next block; io.EOF after the last.
func (c *cutter) next() ([]byte, error) {
	buf := make([]byte, 0, len(c.rest)+blockSize)
	buf = append(buf, c.rest...)
	c.rest = nil
	scanned, quotes := 0, 0 // bytes of buf looked at for the cut, and the quotes among them
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
		end := -1 // the last line end outside quotes
		for i := scanned; i < len(buf); i++ {
			switch buf[i] {
			case '"':
				quotes++
			case '\n':
				if quotes%2 == 0 {
					end = i
				}
			}
		}
		scanned = len(buf)
		if end >= 0 {
			c.rest = append([]byte(nil), buf[end+1:]...)
			return buf[:end+1], nil
		}
		buf = slices.Grow(buf, blockSize) // one record longer than a block: read on
	}
}
