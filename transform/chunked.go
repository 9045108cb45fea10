package transform

// chunked is an append-only list kept in blocks of 1<<chunkBits: appending never
// copies what is there (a slice of millions is copied, and held twice, at every
// doubling) and memory grows with the list, block by block.
type chunked[T any] struct {
	blocks [][]T
	n      int
}

const chunkBits = 16

// add appends v.
func (c *chunked[T]) add(v T) {
	if c.n>>chunkBits == len(c.blocks) {
		// The first block starts small and grows (a small run stays small); later
		// blocks are made whole.
		size := 1 << chunkBits
		if len(c.blocks) == 0 {
			size = 256
		}
		c.blocks = append(c.blocks, make([]T, 0, size))
	}
	b := &c.blocks[len(c.blocks)-1]
	*b = append(*b, v)
	c.n++
}

// at is element i.
func (c *chunked[T]) at(i int32) *T { return &c.blocks[i>>chunkBits][i&(1<<chunkBits-1)] }

// len is the number of elements.
func (c *chunked[T]) len() int { return c.n }
