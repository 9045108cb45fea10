// Package httpretry is the one retry policy of closedloop's API clients: the HubSpot
// and Salesforce readers, and the BigQuery uploads that Google's client does not retry
// itself. It says which failures are tried again, how long to wait between attempts,
// how fast to send, and when to give up.
//
// A request is sent again, whole, after a connection error or reset, a timeout
// (Policy.RequestTimeout per attempt, the body's read included), a body cut short (a
// 2xx whose body ends before its Content-Length or its JSON), and HTTP 408, 429, 500,
// 502, 503 and 504. Any other answer (400, 401, 403, 404, ...) is final: it goes back
// to the caller, which explains it (an auth error names the credential to check).
// Cancelling the context stops at once.
//
// Between attempts a Client waits what a 429 or 503 asks in Retry-After (seconds or an
// HTTP date), or else exponential backoff with full jitter (github.com/cenkalti/backoff/v5):
// after the n-th failure (from 0) a random wait in [0, min(MaxInterval,
// InitialInterval×2^n)], so that concurrent readers do not retry in step. A 429 pauses
// every request of the Client. Requests are paced by a rate.Limiter
// (golang.org/x/time/rate) per Client.
//
// A request gives up after Policy.MaxAttempts attempts, or when Policy.SourceTimeout
// has passed since the Client was made: no attempt runs past it, and a Retry-After
// that would end past it fails at once, saying so. With the defaults a server that
// never answers costs a request at most 5 × 30 s plus about 15 s of backoff.
//
// Errors name the request (method and path, never a token), the attempts made and the
// last failure; every text that came from the network passes load/redact and the
// client's own redaction before it reaches an error or a log line.
package httpretry

import (
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// Defaults of Policy.
const (
	// DefaultMaxAttempts bounds the attempts of one request, the first included.
	DefaultMaxAttempts = 5
	// DefaultInitialInterval is the longest backoff wait after the first failure.
	DefaultInitialInterval = time.Second
	// DefaultMaxInterval caps every backoff wait.
	DefaultMaxInterval = 30 * time.Second
	// DefaultRequestTimeout bounds one attempt: an API page answers in seconds.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultSourceTimeout bounds the requests of one source run, waits included.
	DefaultSourceTimeout = 10 * time.Minute
)

// Policy is how a Client retries and paces its requests. The zero value of each field
// means its default; the zero Policy is the default policy.
type Policy struct {
	// MaxAttempts bounds the attempts of one request, the first included; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// InitialInterval is the longest backoff wait after the first failure; 0 means
	// DefaultInitialInterval.
	InitialInterval time.Duration
	// MaxInterval caps every backoff wait (not a Retry-After); 0 means DefaultMaxInterval.
	MaxInterval time.Duration
	// RequestTimeout bounds one attempt, the answer's body included; 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// SourceTimeout bounds every request of one source run together, waits included,
	// counted from the Client's creation; 0 means DefaultSourceTimeout.
	SourceTimeout time.Duration
	// Rate is how many requests a second a Client starts at most; 0 means the source's
	// default (see Paced), rate.Inf no pacing.
	Rate rate.Limit
	// Burst is how many requests a Client may start at once above Rate; 0 means the
	// source's default, else 1.
	Burst int
}

// Paced returns p with Rate and Burst set to r and burst where p leaves them zero: a
// source's own pacing defaults.
func (p Policy) Paced(r rate.Limit, burst int) Policy {
	if p.Rate == 0 {
		p.Rate = r
	}
	if p.Burst == 0 {
		p.Burst = burst
	}
	return p
}

// WithDefaults returns p with every zero or negative field set to its default; a zero
// Rate becomes rate.Inf (no pacing).
func (p Policy) WithDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialInterval <= 0 {
		p.InitialInterval = DefaultInitialInterval
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = DefaultMaxInterval
	}
	p.MaxInterval = max(p.MaxInterval, p.InitialInterval)
	if p.RequestTimeout <= 0 {
		p.RequestTimeout = DefaultRequestTimeout
	}
	if p.SourceTimeout <= 0 {
		p.SourceTimeout = DefaultSourceTimeout
	}
	if p.Rate <= 0 {
		p.Rate = rate.Inf
	}
	if p.Burst <= 0 {
		p.Burst = 1
	}
	return p
}

// BackOff returns p's waits between attempts, exponential with full jitter: the n-th
// (from 0) is uniform in [0, min(MaxInterval, InitialInterval×2^n)]. It is not safe for
// concurrent use: take one per request or stream.
func (p Policy) BackOff() backoff.BackOff {
	p = p.WithDefaults()
	// backoff's ExponentialBackOff draws from [0, 2×interval] with RandomizationFactor
	// 1: half intervals make that [0, InitialInterval×2^n], capped at MaxInterval.
	return &backoff.ExponentialBackOff{
		InitialInterval:     p.InitialInterval / 2,
		RandomizationFactor: 1,
		Multiplier:          2,
		MaxInterval:         p.MaxInterval / 2,
	}
}
