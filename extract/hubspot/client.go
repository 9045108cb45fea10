package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"closedloop/extract"
	"closedloop/extract/httpretry"
)

// Pacing defaults of Config.Retry.
const (
	// DefaultRate and DefaultBurst keep any 10 s window at 100 requests (9 a second
	// after a burst of 10): the smallest private-app limit is 100 per 10 s (Free and
	// Starter; Professional and Enterprise allow 190).
	DefaultRate  = rate.Limit(9)
	DefaultBurst = 10
	// searchRate spaces search requests: HubSpot allows 4 a second per token.
	searchRate = rate.Limit(4)
	// defaultInterval is HubSpot's rate-limit window when a response does not say.
	defaultInterval = 10 * time.Second
)

// client calls the HubSpot API: bearer token, bounded concurrency, paced, retried
// under Config.Retry. Safe for concurrent use.
type client struct {
	base   string
	token  string
	spec   string
	log    *slog.Logger
	rt     *httpretry.Client
	search *rate.Limiter
}

func newClient(e *Extractor) *client {
	c := &client{base: e.cfg.BaseURL, token: e.cfg.Token, spec: e.cfg.Spec, log: e.cfg.Log,
		search: rate.NewLimiter(e.searchRate, 1)}
	c.rt = httpretry.New(httpretry.Config{
		Source: e.cfg.Spec, Policy: e.cfg.Retry.Paced(DefaultRate, DefaultBurst), HTTPClient: e.cfg.HTTPClient,
		Log: e.cfg.Log, MaxInFlight: e.cfg.Concurrency, Redact: c.scrub, Describe: c.describe, Final: dailyLimit, Wait: interval,
	})
	return c
}

// apiError is a response HubSpot refused for good (after any retries).
type apiError struct {
	call     string // "GET /crm/v3/objects/contacts"
	status   int
	category string
	message  string
}

func (e *apiError) Error() string { return e.call + ": " + e.text() }

// text words the refusal without the call: "HTTP 401 EXPIRED_AUTHENTICATION: ...".
func (e *apiError) text() string {
	s := fmt.Sprintf("HTTP %d", e.status)
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

// parseError reads an error response; a non-JSON error page gives an empty body.
func (c *client) parseError(call string, status int, body []byte) (*apiError, errorBody) {
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	return &apiError{call: call, status: status, category: c.scrub(eb.Category), message: c.scrub(eb.Message)}, eb
}

// describe words an error response for httpretry's errors and logs.
func (c *client) describe(status int, body []byte) string {
	ae, _ := c.parseError("", status, body)
	return ae.text()
}

// dailyLimit reports whether a 429 is the account's used-up daily limit: retrying
// cannot help before midnight.
func dailyLimit(status int, _ http.Header, body []byte) bool {
	var eb errorBody
	return status == http.StatusTooManyRequests && json.Unmarshal(body, &eb) == nil && strings.EqualFold(eb.PolicyName, "DAILY")
}

// interval is the wait of a 429 without Retry-After: HubSpot's rate-limit window.
func interval(h http.Header) (time.Duration, bool) {
	if ms, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond, true
	}
	return 0, false
}

// get calls GET path?query and decodes the response into out.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, http.MethodGet, path, query, nil, out)
}

// post calls POST path with body as JSON and decodes the response into out.
func (c *client) post(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, http.MethodPost, path, nil, body, out)
}

// call sends one request under the retry policy and decodes a 2xx response into out.
// Errors name the call, never the token.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	name := method + " " + path
	req := &httpretry.Request{Method: method, URL: c.base + path, Name: name, Header: http.Header{
		"Authorization": {"Bearer " + c.token}, "Accept": {"application/json"}, "User-Agent": {"closedloop"},
	}}
	if len(query) > 0 {
		req.URL += "?" + query.Encode()
	}
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		req.Body = payload
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasSuffix(path, "/search") {
		req.Limiter = c.search
	}
	if out != nil {
		req.Decode = func(b []byte) error {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("%s: the response is not the JSON HubSpot documents (%w): check %s", name, err, c.base)
			}
			return nil
		}
	}
	resp, err := c.rt.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.Status/100 == 2 {
		c.observe(resp.Header)
		return nil
	}
	return c.refusal(name, resp)
}

// refusal explains a final error response. The text never holds the token.
func (c *client) refusal(name string, resp *httpretry.Response) error {
	ae, eb := c.parseError(name, resp.Status, resp.Body)
	switch {
	case resp.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w: HubSpot refused the token (%v): set %s to a valid private-app access token",
			extract.ErrAuth, ae, TokenVariable)
	case resp.Status == http.StatusForbidden:
		return fmt.Errorf("%w: the token may not make this call (%v): give the private app behind %s the read scope HubSpot names",
			extract.ErrAuth, ae, TokenVariable)
	case resp.Status == http.StatusTooManyRequests && strings.EqualFold(eb.PolicyName, "DAILY"):
		return fmt.Errorf("%v: the account's daily API limit is used up; run again after midnight in the account's time zone", ae)
	}
	return ae
}

// observe reads HubSpot's rate-limit headers of a successful response: when the
// rolling window (or the second) has no call left, every request waits it out.
func (c *client) observe(h http.Header) {
	if n, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Remaining")); err == nil && n <= 0 {
		wait, ok := interval(h)
		if !ok {
			wait = defaultInterval
		}
		c.rt.Pause(wait)
		c.log.Info("hubspot: rate limit window used up, pausing", "source", c.spec, "wait", wait.String())
	}
	if n, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Secondly-Remaining")); err == nil && n <= 0 {
		c.rt.Pause(time.Second)
	}
}

// scrub removes the token from a text that goes into an error or a log.
func (c *client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[token]")
}
