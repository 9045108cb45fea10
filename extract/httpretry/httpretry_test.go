package httpretry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"closedloop/extract/httpretry/faulttest"
)

// fast is a policy of milliseconds.
var fast = Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, RequestTimeout: 2 * time.Second}

// server answers request n (from 1) with answer; it counts the requests.
type server struct {
	*httptest.Server
	n atomic.Int32
}

func newServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, int(s.n.Add(1)))
	}))
	t.Cleanup(s.Close)
	return s
}

// get is a GET of the server's /things whose JSON lands in out.
func get(s *server, out any) *Request {
	return &Request{Method: http.MethodGet, URL: s.URL + "/things?page=2", Name: "GET /things",
		Decode: func(b []byte) error { return json.Unmarshal(b, out) }}
}

func TestBackOffFullJitter(t *testing.T) {
	p := Policy{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}
	const runs, steps = 2000, 8
	var sum [steps]time.Duration
	low := 0
	for range runs {
		bo := p.BackOff()
		for n := range steps {
			d := bo.NextBackOff()
			ceiling := min(p.MaxInterval, p.InitialInterval<<n)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, ceiling, "wait %d", n)
			if d < ceiling/10 {
				low++
			}
			sum[n] += d
		}
	}
	for n := range steps {
		mean, ceiling := sum[n]/runs, min(p.MaxInterval, p.InitialInterval<<n)
		require.InDelta(t, float64(ceiling)/2, float64(mean), float64(ceiling)/10, "wait %d: uniform in [0, %s]", n, ceiling)
	}
	require.Greater(t, low, runs*steps/20, "full jitter: a tenth of the waits fall in the lowest tenth")

	// Reset starts over; the defaults are 1 s doubling to 30 s.
	bo := Policy{}.BackOff()
	for range 10 {
		bo.NextBackOff()
	}
	require.LessOrEqual(t, bo.NextBackOff(), DefaultMaxInterval)
	bo.Reset()
	require.LessOrEqual(t, bo.NextBackOff(), DefaultInitialInterval)
}

func TestDefaults(t *testing.T) {
	require.Equal(t, Policy{MaxAttempts: 5, InitialInterval: time.Second, MaxInterval: 30 * time.Second, RequestTimeout: 30 * time.Second,
		SourceTimeout: 10 * time.Minute, Rate: rate.Inf, Burst: 1}, Policy{}.WithDefaults())
	p := Policy{MaxAttempts: 2, Rate: 3}.Paced(9, 10).WithDefaults()
	require.Equal(t, 2, p.MaxAttempts)
	require.Equal(t, rate.Limit(3), p.Rate, "the policy's rate wins over the source's default")
	require.Equal(t, 10, p.Burst)
}

func TestRetriedStatuses(t *testing.T) {
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.WriteHeader(code)
					return
				}
				fmt.Fprint(w, `{"things":[1,2,3]}`)
			})
			var out struct{ Things []int }
			resp, err := New(Config{Policy: fast}).Do(context.Background(), get(s, &out))
			require.NoError(t, err)
			require.Equal(t, 2, resp.Attempts)
			require.Equal(t, []int{1, 2, 3}, out.Things)
		})
	}
}

func TestFinalStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 409} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(code)
				fmt.Fprint(w, `{"message":"no"}`)
			})
			var out any
			resp, err := New(Config{Policy: fast}).Do(context.Background(), get(s, &out))
			require.NoError(t, err, "a final answer is the caller's to explain")
			require.Equal(t, code, resp.Status)
			require.Equal(t, `{"message":"no"}`, string(resp.Body))
			require.Equal(t, 1, resp.Attempts)
			require.EqualValues(t, 1, s.n.Load(), "not retried")
			require.Nil(t, out, "an error answer is not decoded")
		})
	}
}

func TestAttemptBound(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "gateway %d", n)
	})
	p := fast
	p.MaxAttempts = 3
	var logs bytes.Buffer
	c := New(Config{Source: "test:api", Policy: p, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Describe: func(status int, body []byte) string { return fmt.Sprintf("HTTP %d: %s", status, body) }})
	_, err := c.Do(context.Background(), get(s, new(any)))
	require.EqualError(t, err, "GET /things: gave up after 3 attempts: the most attempts allowed (MaxAttempts 3); last: HTTP 502: gateway 3")
	var ge *Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, &Error{Name: "GET /things", Attempts: 3, Status: 502, Reason: "the most attempts allowed (MaxAttempts 3)", Last: "HTTP 502: gateway 3"}, ge)
	require.EqualValues(t, 3, s.n.Load())
	require.Equal(t, 2, strings.Count(logs.String(), `msg="request failed, retrying" source=test:api call="GET /things"`))
}

func TestRetryAfter(t *testing.T) {
	date := func() string { return time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat) }
	for _, tc := range []struct {
		name, header string
		code         int
		min, max     time.Duration
	}{
		{"seconds", "1", http.StatusTooManyRequests, time.Second, 2 * time.Second},
		{"http date", "", http.StatusServiceUnavailable, 400 * time.Millisecond, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					h := tc.header
					if h == "" {
						h = date()
					}
					w.Header().Set("Retry-After", h)
					w.WriteHeader(tc.code)
					return
				}
				fmt.Fprint(w, `{}`)
			})
			t0 := time.Now()
			resp, err := New(Config{Policy: fast}).Do(context.Background(), get(s, new(any)))
			require.NoError(t, err)
			require.Equal(t, 2, resp.Attempts)
			require.GreaterOrEqual(t, time.Since(t0), tc.min, "Retry-After waited out, not the millisecond backoff")
			require.Less(t, time.Since(t0), tc.max)
		})
	}
}

func TestRetryAfterPastDeadline(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	p := fast
	p.SourceTimeout = time.Minute
	t0 := time.Now()
	_, err := New(Config{Policy: p}).Do(context.Background(), get(s, new(any)))
	require.Less(t, time.Since(t0), time.Second, "fails now, not after a minute")
	require.ErrorContains(t, err, "GET /things: gave up after 1 attempt: the server asks to wait 2m0s (Retry-After), more than the ")
	require.ErrorContains(t, err, "s left of the source's time limit (SourceTimeout 1m0s): run again later; last: HTTP 429")
	require.EqualValues(t, 1, s.n.Load())
}

func TestSourceTimeout(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { faulttest.Hang(r, 5*time.Second) })
	p := fast
	p.RequestTimeout, p.SourceTimeout, p.MaxAttempts = 100*time.Millisecond, 350*time.Millisecond, 100
	c := New(Config{Policy: p})
	t0 := time.Now()
	_, err := c.Do(context.Background(), get(s, new(any)))
	require.Less(t, time.Since(t0), time.Second)
	require.ErrorContains(t, err, "the source's time limit (SourceTimeout 350ms) is reached; last: ")
	var ge *Error
	require.ErrorAs(t, err, &ge)
	require.Zero(t, ge.Status, "no answer came")
	require.InDelta(t, 4, ge.Attempts, 1, "100 ms attempts for 350 ms")

	// Past the deadline, a request fails before it is sent.
	n := s.n.Load()
	_, err = c.Do(context.Background(), get(s, new(any)))
	require.EqualError(t, err, "GET /things: gave up after 0 attempts: the source's time limit (SourceTimeout 350ms) is reached")
	require.Equal(t, n, s.n.Load())
}

func TestContextCancel(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { faulttest.Hang(r, 5*time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 := time.Now()
	_, err := New(Config{Policy: fast}).Do(ctx, get(s, new(any)))
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(t0), time.Second)
	require.EqualValues(t, 1, s.n.Load(), "no retry after a cancel")

	// During a wait, too.
	s2 := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 = time.Now()
	_, err = New(Config{Policy: fast}).Do(ctx, get(s2, new(any)))
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(t0), time.Second)
	require.EqualValues(t, 1, s2.n.Load())
}

func TestCutShort(t *testing.T) {
	body := []byte(`{"things":[1,2,3,4,5,6,7,8,9,10]}`)
	for name, fault := range map[string]func(http.ResponseWriter){
		"reset mid-body": func(w http.ResponseWriter) { faulttest.ResetMidBody(w, body) },
		"short body":     func(w http.ResponseWriter) { faulttest.Truncate(w, body) },
		"json cut":       func(w http.ResponseWriter) { faulttest.CutJSON(w, body) },
	} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var methods []string
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				methods = append(methods, r.Method+" "+r.URL.RequestURI()+" "+string(b))
				mu.Unlock()
				if n <= 2 {
					fault(w)
					return
				}
				w.Write(body)
			})
			var out struct{ Things []int }
			r := get(s, &out)
			r.Method, r.Body = http.MethodPost, []byte(`{"q":1}`)
			resp, err := New(Config{Policy: fast}).Do(context.Background(), r)
			require.NoError(t, err)
			require.Equal(t, 3, resp.Attempts)
			require.Len(t, out.Things, 10, "the whole answer")
			require.Equal(t, []string{"POST /things?page=2 {\"q\":1}", "POST /things?page=2 {\"q\":1}", "POST /things?page=2 {\"q\":1}"}, methods,
				"the whole request again")
		})
	}

	// JSON that does not parse is no cut: it is the caller's error, at once.
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, `{"things":[1,}`) })
	_, err := New(Config{Policy: fast}).Do(context.Background(), get(s, new(any)))
	var se *json.SyntaxError
	require.ErrorAs(t, err, &se)
	require.EqualValues(t, 1, s.n.Load())
}

func TestRedaction(t *testing.T) {
	const token = "pat-na1-secret-token"
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "bad token %s for %s; api_key=abc123", strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.URL)
	})
	var logs bytes.Buffer
	p := fast
	p.MaxAttempts = 2
	c := New(Config{Policy: p, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Describe: func(status int, body []byte) string { return string(body) },
		Redact:   func(s string) string { return strings.ReplaceAll(s, token, "[token]") }})
	r := get(s, new(any))
	r.Header = http.Header{"Authorization": {"Bearer " + token}}
	_, err := c.Do(context.Background(), r)
	require.ErrorContains(t, err, "last: bad token [token] for /things?page=2; api_key=xxxxx")
	for _, s := range []string{err.Error(), logs.String()} {
		require.NotContains(t, s, token)
		require.NotContains(t, s, "abc123")
	}
}

func TestPacing(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, `{}`) })
	p := fast
	p.Rate, p.Burst = 20, 2
	c := New(Config{Policy: p})
	t0 := time.Now()
	for range 6 {
		_, err := c.Do(context.Background(), get(s, new(any)))
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, time.Since(t0), 190*time.Millisecond, "a burst of 2, then 20 a second")

	// A 429 pauses every request of the Client, not only its own retry.
	var mu sync.Mutex
	var at []time.Time
	s2 := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if r.URL.Path == "/limited" && n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{}`)
	})
	c = New(Config{Policy: fast})
	first := get(s2, new(any))
	first.URL = s2.URL + "/limited"
	_, err := c.Do(context.Background(), first)
	require.NoError(t, err)
	_, err = c.Do(context.Background(), get(s2, new(any)))
	require.NoError(t, err)
	require.Len(t, at, 3)
	require.GreaterOrEqual(t, at[1].Sub(at[0]), time.Second)
}

func TestMaxInFlight(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		fmt.Fprint(w, `{}`)
	})
	c := New(Config{Policy: fast, MaxInFlight: 2})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := c.Do(context.Background(), get(s, new(any)))
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, 2, most)
}

func TestRun(t *testing.T) {
	refusal := func(code int, retryAfter string) error {
		return &StatusError{Code: code, Header: http.Header{"Retry-After": {retryAfter}}, Err: fmt.Errorf("googleapi: Error %d", code)}
	}
	var calls int
	err := New(Config{Policy: fast}).Run(context.Background(), "upload", 0, func(ctx context.Context) error {
		calls++
		switch calls {
		case 1:
			return refusal(http.StatusServiceUnavailable, "")
		case 2:
			return fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
		case 3:
			<-ctx.Done() // the attempt's own deadline
			return ctx.Err()
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 4, calls)

	// The RequestTimeout of Run's attempts is its own.
	start := time.Now()
	p := fast
	p.MaxAttempts = 1
	err = New(Config{Policy: p}).Run(context.Background(), "upload", 50*time.Millisecond, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	require.ErrorContains(t, err, "upload: gave up after 1 attempt: the most attempts allowed (MaxAttempts 1); last: no complete answer within 50ms (RequestTimeout)")
	require.Less(t, time.Since(start), time.Second)

	// A final refusal and an error of no transport kind are returned as they are.
	conflict := refusal(http.StatusConflict, "")
	calls = 0
	err = New(Config{Policy: fast}).Run(context.Background(), "upload", 0, func(context.Context) error { calls++; return conflict })
	require.Same(t, conflict, err)
	require.Equal(t, 1, calls)
	other := errors.New("bigquery: no such file")
	err = New(Config{Policy: fast}).Run(context.Background(), "upload", 0, func(context.Context) error { return other })
	require.Same(t, other, err)

	// A refusal given up on stays reachable.
	p.MaxAttempts = 2
	err = New(Config{Policy: p}).Run(context.Background(), "upload", 0, func(context.Context) error { return refusal(http.StatusBadGateway, "") })
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusBadGateway, se.Code)
}
