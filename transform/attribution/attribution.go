// Package attribution splits the credit for a conversion over the touches of its
// journey. A Model turns one journey into weights, one per touch, that sum to 1;
// journeys are built by the caller (the touches of the converting person within the
// lookback window before the conversion, oldest first, a touch at the conversion's own
// time included).
package attribution

import (
	"fmt"
	"sort"
	"strings"
)

// Journey is the touches before one conversion, oldest first.
type Journey struct {
	At      []int64 // touch times, µs since epoch, ascending
	Channel []int32 // channel of each touch, as a code of the caller's dictionary
}

// Len is the number of touches.
func (j Journey) Len() int { return len(j.At) }

// Model assigns credit to the touches of a journey.
type Model interface {
	// Name is the model value written to fct_attribution.
	Name() string
	// Weights writes the credit of touch i into w[i] (len(w) == j.Len() > 0); the
	// weights are in [0, 1] and sum to 1.
	Weights(j Journey, w []float64)
}

type firstTouch struct{}

func (firstTouch) Name() string { return "first_touch" }
func (firstTouch) Weights(j Journey, w []float64) {
	clear(w)
	w[0] = 1
}

type lastTouch struct{}

func (lastTouch) Name() string { return "last_touch" }
func (lastTouch) Weights(j Journey, w []float64) {
	clear(w)
	w[len(w)-1] = 1
}

// linear gives every touch 1/n; repeated touches of a channel count each time.
type linear struct{}

func (linear) Name() string { return "linear" }
func (linear) Weights(j Journey, w []float64) {
	for i := range w {
		w[i] = 1 / float64(len(w))
	}
}

var all = []Model{firstTouch{}, lastTouch{}, linear{}}

// Names lists the models this build knows.
func Names() []string {
	var n []string
	for _, m := range all {
		n = append(n, m.Name())
	}
	sort.Strings(n)
	return n
}

// Lookup returns the models named, in the order given.
func Lookup(names []string) ([]Model, error) {
	var out []Model
	for _, name := range names {
		name = strings.TrimSpace(name)
		found := false
		for _, m := range all {
			if m.Name() == name {
				out, found = append(out, m), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown attribution model %q (known: %s)", name, strings.Join(Names(), ", "))
		}
	}
	return out, nil
}
