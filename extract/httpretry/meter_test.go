package httpretry

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

type pageMeter struct{ pages, bytes atomic.Int64 }

func (m *pageMeter) Plan(int64)   {}
func (m *pageMeter) Read(int64)   {}
func (m *pageMeter) Page(n int64) { m.pages.Add(1); m.bytes.Add(n) }

// TestDoMetersFinalAnswers: each final answer is one page to the context's Meter,
// with its body's bytes; a refused attempt that is retried is none.
func TestDoMetersFinalAnswers(t *testing.T) {
	var calls atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"results":[1,2,3]}`))
	}))
	defer s.Close()
	m := &pageMeter{}
	ctx := extract.WithMeter(t.Context(), m)
	c := New(Config{Policy: fast})
	for range 2 {
		_, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: s.URL, Name: "GET /"})
		require.NoError(t, err)
	}
	require.Equal(t, int64(3), calls.Load())
	require.Equal(t, int64(2), m.pages.Load())
	require.Equal(t, int64(2*len(`{"results":[1,2,3]}`)), m.bytes.Load())
}
