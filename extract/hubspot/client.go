package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"closedloop/extract"
)

// Retry bounds.
const (
	// maxBackoff caps the exponential back-off after 5xx and network errors.
	maxBackoff = 30 * time.Second
	// maxRetryAfter is the longest Retry-After honoured: a longer wait (a daily limit
	// in disguise) fails the run instead of stalling the nightly job.
	maxRetryAfter = 5 * time.Minute
	// defaultInterval is HubSpot's rate-limit window when a response does not say.
	defaultInterval = 10 * time.Second
)

// client calls the HubSpot API: bearer token, bounded concurrency, rate limits,
// bounded retries. Safe for concurrent use.
type client struct {
	base     string
	token    string
	spec     string
	hc       *http.Client
	log      *slog.Logger
	attempts int
	timeout  time.Duration
	sleep    func(context.Context, time.Duration) error
	sem      chan struct{} // one slot per request in flight

	mu          sync.Mutex
	notBefore   time.Time // a rate-limit pause: no request starts before
	searchEvery time.Duration
	nextSearch  time.Time
}

func newClient(e *Extractor) *client {
	return &client{
		base: e.cfg.BaseURL, token: e.cfg.Token, spec: e.cfg.Spec, hc: e.cfg.HTTPClient,
		log: e.cfg.Log, attempts: e.cfg.MaxAttempts, timeout: e.cfg.CallTimeout, sleep: e.sleep,
		sem: make(chan struct{}, e.cfg.Concurrency), searchEvery: e.searchEvery,
	}
}

// apiError is a response HubSpot refused for good (after any retries).
type apiError struct {
	call     string // "GET /crm/v3/objects/contacts"
	status   int
	category string
	message  string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.call, e.status)
	if e.category != "" {
		s += " " + e.category
	}
	if e.message != "" {
		s += ": " + e.message
	}
	return s
}

// isNotFound reports whether err is HubSpot's 404.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusNotFound
}

// errorBody is HubSpot's error response.
type errorBody struct {
	Category   string `json:"category"`
	Message    string `json:"message"`
	PolicyName string `json:"policyName"`
}

// get calls GET path?query and decodes the response into out.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, http.MethodGet, path, query, nil, out)
}

// post calls POST path with body as JSON and decodes the response into out.
func (c *client) post(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, http.MethodPost, path, nil, body, out)
}

// call sends one request, retrying rate limits (429), server errors (5xx) and
// network errors up to c.attempts tries, and decodes a 2xx response into out.
// Errors name the call, never the token.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	name := method + " " + path
	search := strings.HasSuffix(path, "/search")
	for attempt := 1; ; attempt++ {
		if err := c.wait(ctx, search); err != nil {
			return err
		}
		status, hdr, resp, err := c.once(ctx, method, u, payload)
		if err == nil && status/100 == 2 {
			c.observe(hdr)
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(resp, out); err != nil {
				return fmt.Errorf("%s: the response is not the JSON HubSpot documents (%v): check %s", name, err, c.base)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait, ferr := c.judge(name, status, hdr, resp, err, attempt)
		if wait < 0 {
			return ferr
		}
		if attempt >= c.attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, ferr)
		}
		c.log.Warn("hubspot: retrying", "source", c.spec, "call", name, "attempt", attempt, "wait", wait.String(), "error", ferr.Error())
		if status == http.StatusTooManyRequests {
			c.pause(wait) // the limit is the account's: every request waits
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// once sends one attempt under the call deadline and reads the whole response.
func (c *client) once(ctx context.Context, method, u string, payload []byte) (int, http.Header, []byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "closedloop")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// judge decides what a failed attempt means: a wait before the next try, or (wait
// < 0) a final error. The error text never holds the token.
func (c *client) judge(name string, status int, hdr http.Header, body []byte, err error, attempt int) (time.Duration, error) {
	if err != nil {
		return c.backoff(attempt), fmt.Errorf("%s: %s", name, c.scrub(err.Error()))
	}
	var eb errorBody
	_ = json.Unmarshal(body, &eb) // a non-JSON error page leaves eb empty
	ae := &apiError{call: name, status: status, category: c.scrub(eb.Category), message: c.scrub(eb.Message)}
	switch {
	case status == http.StatusUnauthorized:
		return -1, fmt.Errorf("%w: HubSpot refused the token (%v): set %s to a valid private-app access token",
			extract.ErrAuth, ae, TokenVariable)
	case status == http.StatusForbidden:
		return -1, fmt.Errorf("%w: the token may not make this call (%v): give the private app behind %s the read scope HubSpot names",
			extract.ErrAuth, ae, TokenVariable)
	case status == http.StatusTooManyRequests:
		if strings.EqualFold(eb.PolicyName, "DAILY") {
			return -1, fmt.Errorf("%v: the account's daily API limit is used up; run again after midnight in the account's time zone", ae)
		}
		if ra, ok := extract.RetryAfter(hdr.Get("Retry-After")); ok {
			if ra > maxRetryAfter {
				return -1, fmt.Errorf("%v: HubSpot asks to wait %s before the next call; run again later", ae, ra)
			}
			return ra, ae
		}
		if ms, err := strconv.Atoi(hdr.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond, ae
		}
		return max(c.backoff(attempt), time.Second), ae
	case status >= 500:
		return c.backoff(attempt), ae
	}
	return -1, ae
}

// backoff is the wait before try attempt+1: 1 s doubling up to maxBackoff, ±20 %
// so that concurrent readers do not retry in step.
func (c *client) backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 10)
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// observe reads HubSpot's rate-limit headers of a successful response: when the
// rolling window (or the second) has no call left, every request waits it out.
func (c *client) observe(h http.Header) {
	if n, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Remaining")); err == nil && n <= 0 {
		wait := defaultInterval
		if ms, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
			wait = time.Duration(ms) * time.Millisecond
		}
		c.pause(wait)
		c.log.Info("hubspot: rate limit window used up, pausing", "source", c.spec, "wait", wait.String())
	}
	if n, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Secondly-Remaining")); err == nil && n <= 0 {
		c.pause(time.Second)
	}
}

// pause makes every request wait d from now.
func (c *client) pause(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := time.Now().Add(d); t.After(c.notBefore) {
		c.notBefore = t
	}
}

// wait blocks until a request may start: after any rate-limit pause and, for
// searches, searchEvery after the previous search.
func (c *client) wait(ctx context.Context, search bool) error {
	c.mu.Lock()
	now := time.Now()
	start := now
	if c.notBefore.After(start) {
		start = c.notBefore
	}
	if search {
		if c.nextSearch.After(start) {
			start = c.nextSearch
		}
		c.nextSearch = start.Add(c.searchEvery)
	}
	c.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		return c.sleep(ctx, d)
	}
	return ctx.Err()
}

// scrub removes the token from a text that goes into an error or a log.
func (c *client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[token]")
}
