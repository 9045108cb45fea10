package attribution

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModels(t *testing.T) {
	j := Journey{At: []int64{1, 2, 2, 5}, Channel: []int32{1, 2, 3, 1}}
	cases := []struct {
		model string
		want  []float64
	}{
		{"first_touch", []float64{1, 0, 0, 0}},
		{"last_touch", []float64{0, 0, 0, 1}},
		{"linear", []float64{0.25, 0.25, 0.25, 0.25}}, // repeats of channel 1 count twice
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			ms, err := Lookup([]string{c.model})
			require.NoError(t, err)
			w := make([]float64, j.Len())
			ms[0].Weights(j, w)
			require.InDeltaSlice(t, c.want, w, 1e-12)
		})
	}
}

func TestSingleTouchGetsEverything(t *testing.T) {
	ms, err := Lookup(Names())
	require.NoError(t, err)
	for _, m := range ms {
		w := []float64{0}
		m.Weights(Journey{At: []int64{7}, Channel: []int32{1}}, w)
		require.Equal(t, 1.0, w[0], m.Name())
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup([]string{"linear", "magic"})
	require.ErrorContains(t, err, `unknown attribution model "magic"`)
}
