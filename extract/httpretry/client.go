package httpretry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"

	"closedloop/load/redact"
)

// Config configures a Client.
type Config struct {
	// Source names the source in log lines ("hubspot:api"); empty when Log names it.
	Source string
	// Policy is how the Client retries and paces; zero fields mean the defaults, a zero
	// Rate no pacing (set a source's pacing with Policy.Paced).
	Policy Policy
	// HTTPClient sends the requests of Do; nil means a plain http.Client. Deadlines
	// come from the Policy.
	HTTPClient *http.Client
	// Log receives a warning per retry; nil discards them.
	Log *slog.Logger
	// MaxInFlight bounds the attempts in flight at once; 0 means no bound.
	MaxInFlight int
	// Redact removes the source's own secrets (a token) from a text of the network,
	// after load/redact; nil removes nothing more.
	Redact func(string) string
	// Describe words an error answer for errors and logs ("HTTP 503: try later"); nil
	// says "HTTP 503".
	Describe func(status int, body []byte) string
	// Final marks a retryable answer that retrying cannot help (HubSpot's used-up daily
	// limit): Do returns it as a final answer.
	Final func(status int, header http.Header, body []byte) bool
	// Wait reads a source's own wait from a 429 or 503 without Retry-After (HubSpot's
	// X-HubSpot-RateLimit-Interval-Milliseconds); nil means the backoff.
	Wait func(header http.Header) (time.Duration, bool)
}

// Client sends requests under a Policy. It is safe for concurrent use; its
// SourceTimeout runs from New, so make one per source run.
type Client struct {
	cfg      Config
	policy   Policy
	hc       *http.Client
	log      *slog.Logger
	limiter  *rate.Limiter
	inFlight chan struct{} // nil: unbounded
	deadline time.Time

	mu        sync.Mutex
	notBefore time.Time // a 429's pause: no attempt starts before
}

// New returns a Client for cfg; its SourceTimeout starts now.
func New(cfg Config) *Client {
	p := cfg.Policy.WithDefaults()
	c := &Client{cfg: cfg, policy: p, hc: cfg.HTTPClient, log: cfg.Log, limiter: rate.NewLimiter(p.Rate, p.Burst),
		deadline: time.Now().Add(p.SourceTimeout)}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight > 0 {
		c.inFlight = make(chan struct{}, cfg.MaxInFlight)
	}
	return c
}

// Policy returns the Client's policy, defaults filled in.
func (c *Client) Policy() Policy { return c.policy }

// Pause makes every attempt of the Client wait d from now before it starts.
func (c *Client) Pause(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := time.Now().Add(d); t.After(c.notBefore) {
		c.notBefore = t
	}
}

// Error is a request given up on: its name, the attempts made and the last failure.
type Error struct {
	// Name is the request as the caller named it: "GET /crm/v3/owners".
	Name string
	// Attempts is the number of attempts made.
	Attempts int
	// Status is the HTTP status of the last answer; 0 when none came.
	Status int
	// Reason says why no further attempt was made.
	Reason string
	// Last is the last failure, redacted; "" when no attempt was made.
	Last string
	// Err is the last failure of Run's op when it was an HTTP refusal (a *StatusError).
	Err error
}

// Error says what gave up, after how many attempts, why, and the last failure.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: gave up after %d attempt", e.Name, e.Attempts)
	if e.Attempts != 1 {
		s += "s"
	}
	s += ": " + e.Reason
	if e.Last != "" {
		s += "; last: " + e.Last
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// failure is a failed attempt.
type failure struct {
	text    string        // for errors and logs, redacted
	status  int           // HTTP status; 0 when no answer came
	wait    time.Duration // what the server asks to wait, when hasWait
	hasWait bool
	final   error // non-nil: stop and return this
	err     error // Run: the op's HTTP refusal, for Error.Err
}

// errRetry makes backoff.Retry wait its backoff and try again.
var errRetry = errors.New("retry")

// retry makes attempts of once, each under a context bounded by timeout and the
// source's deadline, until one succeeds (nil), one is final, or the policy gives up.
func (c *Client) retry(ctx context.Context, name string, timeout time.Duration, extra *rate.Limiter, once func(ctx context.Context) *failure) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	left := time.Until(c.deadline)
	if left <= 0 {
		return &Error{Name: name, Reason: c.deadlineReason()}
	}
	sctx, cancel := context.WithDeadline(ctx, c.deadline)
	defer cancel()
	attempts := 0
	var last *failure
	var final error
	op := func() (struct{}, error) {
		release, err := c.pace(sctx, extra)
		var paused *pausedPastDeadline
		if errors.As(err, &paused) {
			final = c.gaveUp(name, attempts, last, fmt.Sprintf("the server asked to pause every request %s (Retry-After of an earlier answer), more than the %s left of the source's time limit (SourceTimeout %s): run again later",
				paused.wait.Round(time.Second), paused.left.Round(time.Millisecond), c.policy.SourceTimeout))
			return struct{}{}, backoff.Permanent(final)
		}
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		attempts++
		actx, acancel := context.WithTimeout(sctx, timeout)
		f := once(actx)
		acancel()
		release()
		if f == nil {
			return struct{}{}, nil
		}
		if f.final != nil {
			final = f.final
			return struct{}{}, backoff.Permanent(final)
		}
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		last = f
		if !f.hasWait {
			return struct{}{}, errRetry
		}
		if f.status == http.StatusTooManyRequests {
			c.Pause(f.wait) // a rate limit is the account's: every request waits
		}
		if rest := time.Until(c.deadline); f.wait > rest && attempts < c.policy.MaxAttempts {
			final = c.gaveUp(name, attempts, f, fmt.Sprintf("the server asks to wait %s (Retry-After), more than the %s left of the source's time limit (SourceTimeout %s): run again later",
				f.wait, rest.Round(time.Millisecond), c.policy.SourceTimeout))
			return struct{}{}, backoff.Permanent(final)
		}
		return struct{}{}, &backoff.RetryAfterError{Duration: f.wait}
	}
	notify := func(_ error, wait time.Duration) {
		attrs := []any{"call", name, "attempt", attempts, "wait", wait.String(), "error", last.text}
		if c.cfg.Source != "" {
			attrs = append([]any{"source", c.cfg.Source}, attrs...)
		}
		c.log.Warn("request failed, retrying", attrs...)
	}
	_, err := backoff.Retry(sctx, op, backoff.WithBackOff(c.policy.BackOff()), backoff.WithMaxTries(uint(c.policy.MaxAttempts)),
		backoff.WithMaxElapsedTime(left), backoff.WithNotify(notify))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case final != nil:
		return final
	case attempts >= c.policy.MaxAttempts:
		return c.gaveUp(name, attempts, last, fmt.Sprintf("the most attempts allowed (MaxAttempts %d)", c.policy.MaxAttempts))
	}
	return c.gaveUp(name, attempts, last, c.deadlineReason())
}

func (c *Client) deadlineReason() string {
	return fmt.Sprintf("the source's time limit (SourceTimeout %s) is reached", c.policy.SourceTimeout)
}

func (c *Client) gaveUp(name string, attempts int, last *failure, reason string) *Error {
	e := &Error{Name: name, Attempts: attempts, Reason: reason}
	if last != nil {
		e.Status, e.Last, e.Err = last.status, last.text, last.err
	}
	return e
}

// pausedPastDeadline is pace's refusal when a 429's pause ends after the source's
// time limit: no attempt can start in time.
type pausedPastDeadline struct{ wait, left time.Duration }

func (p *pausedPastDeadline) Error() string {
	return fmt.Sprintf("paused for %s, %s left", p.wait, p.left)
}

// pace waits until an attempt may start: a slot among MaxInFlight, the end of a 429's
// pause, the Client's limiter and extra. release frees the slot.
func (c *Client) pace(ctx context.Context, extra *rate.Limiter) (_ func(), err error) {
	// free is the slot's release, kept apart from the result: an error return sets the
	// result to nil before the deferred release runs.
	free := func() {}
	if c.inFlight != nil {
		select {
		case c.inFlight <- struct{}{}:
			free = func() { <-c.inFlight }
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() {
		if err != nil {
			free()
		}
	}()
	c.mu.Lock()
	until := c.notBefore
	c.mu.Unlock()
	if d := time.Until(until); d > 0 {
		if dl, ok := ctx.Deadline(); ok && until.After(dl) {
			return nil, &pausedPastDeadline{wait: d, left: time.Until(dl)}
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	if extra != nil {
		if err := extra.Wait(ctx); err != nil {
			return nil, err
		}
	}
	return free, nil
}

// clean removes credentials from a text of the network.
func (c *Client) clean(s string) string {
	s = redact.String(s)
	if c.cfg.Redact != nil {
		s = c.cfg.Redact(s)
	}
	return s
}
