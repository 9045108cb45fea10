package httpretry

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// StatusError is an HTTP refusal that Run's op got through another library (a
// googleapi.Error): Run retries it as Do retries its status.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// Header is the answer's header (Retry-After).
	Header http.Header
	// Err is the library's error.
	Err error
}

// Error is the library's error text.
func (e *StatusError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *StatusError) Unwrap() error { return e.Err }

// Run calls op until it succeeds, under the policy of Do, for a request that another
// library sends (Google's BigQuery client where it does not retry): each call of op is
// one attempt under the context it gets, bounded by timeout (0 means RequestTimeout),
// and reports an HTTP refusal as a *StatusError. Timeouts, transport failures and the
// retryable statuses are tried again; any other error is returned as it is, and a
// request given up on is an *Error.
func (c *Client) Run(ctx context.Context, name string, timeout time.Duration, op func(ctx context.Context) error) error {
	if timeout <= 0 {
		timeout = c.policy.RequestTimeout
	}
	return c.retry(ctx, name, timeout, nil, func(ctx context.Context) *failure {
		err := op(ctx)
		if err == nil {
			return nil
		}
		var se *StatusError
		switch {
		case ctx.Err() != nil:
			return c.broken(ctx, name, timeout, err)
		case errors.As(err, &se):
			if !Retryable(se.Code) {
				return &failure{final: err}
			}
			f := c.refused(se.Code, se.Header, c.clean(se.Error()))
			f.err = se
			return f
		case transient(err):
			return &failure{text: c.clean(err.Error())}
		}
		return &failure{final: err}
	})
}
