package attribution

import "unsafe"

// Path is one distinct channel sequence and what became of the journeys that took it:
// the aggregated layout of ChannelAttribution (path;total_conversions;
// total_conversion_value;total_null). The data-driven models (markov, shapley) learn
// from paths, converting and non-converting alike.
type Path struct {
	Channels    []int32 // channel codes in touch order, repeats kept; never empty
	Conversions float64 // journeys on this path that converted
	Value       float64 // their summed conversion value
	Nulls       float64 // journeys on this path that did not convert
}

// PathSet aggregates journeys into distinct paths, in first-seen order.
type PathSet struct {
	index map[string]int
	// Paths are the distinct paths; Channels of each is owned by the set.
	Paths []Path
}

// Add counts conversions, value and nulls for the path channels (copied). An empty
// path is ignored: a journey without touches has no path.
func (s *PathSet) Add(channels []int32, conversions, value, nulls float64) {
	if len(channels) == 0 {
		return
	}
	if s.index == nil {
		s.index = map[string]int{}
	}
	key := unsafe.String((*byte)(unsafe.Pointer(&channels[0])), len(channels)*4)
	i, ok := s.index[key]
	if !ok {
		i = len(s.Paths)
		c := append([]int32(nil), channels...)
		s.Paths = append(s.Paths, Path{Channels: c})
		s.index[unsafe.String((*byte)(unsafe.Pointer(&c[0])), len(c)*4)] = i
	}
	p := &s.Paths[i]
	p.Conversions += conversions
	p.Value += value
	p.Nulls += nulls
}

// Len is the number of distinct paths.
func (s *PathSet) Len() int { return len(s.Paths) }
