package httpretry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"closedloop/extract"
)

// DefaultMaxBody bounds an answer's body when Request.MaxBody is 0.
const DefaultMaxBody = 256 << 20

// Request is a request of Do, sent whole again on every attempt.
type Request struct {
	// Method is the HTTP method.
	Method string
	// URL is the request's URL, query included.
	URL string
	// Name is how errors and logs name the request: method and path, without query or
	// secrets ("GET /crm/v3/owners").
	Name string
	// Header is sent with every attempt; it is never logged.
	Header http.Header
	// Body is sent with every attempt; nil sends none.
	Body []byte
	// MaxBody bounds the answer's body; 0 means DefaultMaxBody. A longer one fails at once.
	MaxBody int64
	// Decode, when set, reads a 2xx answer's body within the attempt: an error showing
	// the body cut short (io.ErrUnexpectedEOF, JSON ending early) is retried, any other
	// is returned by Do as it is.
	Decode func(body []byte) error
	// Limiter, when set, paces these requests beside the Client's own limiter (HubSpot's
	// search API).
	Limiter *rate.Limiter
}

// Response is the final answer to a request of Do.
type Response struct {
	// Status is the HTTP status: a 2xx, or one that is not retried.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the answer's whole body.
	Body []byte
	// Attempts is the number of attempts made, this one included.
	Attempts int
}

// Do sends r until a final answer comes and returns it, its body read whole: a 2xx
// (read by r.Decode when set), or a status that is not retried, for the caller to
// explain. A request given up on is an *Error; a cancelled ctx is ctx.Err(). The final
// answer is a page to ctx's extract.Meter.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	var out *Response
	attempt := 0
	err := c.retry(ctx, r.Name, c.policy.RequestTimeout, r.Limiter, func(ctx context.Context) *failure {
		attempt++
		resp, f := c.send(ctx, r)
		if f == nil {
			resp.Attempts = attempt
			out = resp
		}
		return f
	})
	if err != nil {
		return nil, err
	}
	if m := extract.MeterOf(ctx); m != nil {
		m.Page(int64(len(out.Body)))
	}
	return out, nil
}

// send makes one attempt of r and judges it: a final answer, or a failure.
func (c *Client) send(ctx context.Context, r *Request) (*Response, *failure) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, &failure{final: fmt.Errorf("%s: %s", r.Name, c.clean(err.Error()))}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.broken(ctx, r.Name, c.policy.RequestTimeout, err)
	}
	defer resp.Body.Close()
	limit := r.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		f := c.broken(ctx, r.Name, c.policy.RequestTimeout, err)
		if f.final == nil && resp.StatusCode/100 == 2 {
			f.text = fmt.Sprintf("HTTP %d, its body cut short: %s", resp.StatusCode, f.text)
		}
		return nil, f
	}
	if int64(len(b)) > limit {
		return nil, &failure{final: fmt.Errorf("%s: the answer (HTTP %d) is larger than %d MiB: something else answered", r.Name, resp.StatusCode, limit>>20)}
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	switch code := resp.StatusCode; {
	case code/100 == 2:
		if r.Decode == nil {
			return out, nil
		}
		err := r.Decode(b)
		if err == nil {
			return out, nil
		}
		if cutShort(err) {
			return nil, &failure{status: code, text: fmt.Sprintf("HTTP %d, its body cut short: %s", code, c.clean(err.Error()))}
		}
		return nil, &failure{final: err}
	case Retryable(code) && (c.cfg.Final == nil || !c.cfg.Final(code, resp.Header, b)):
		return nil, c.refused(code, resp.Header, c.describe(code, b))
	}
	return out, nil
}

// refused is the failure of a retryable status, with the wait the server asks for.
func (c *Client) refused(code int, h http.Header, text string) *failure {
	f := &failure{status: code, text: text}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if d, ok := extract.RetryAfter(h.Get("Retry-After")); ok {
			f.wait, f.hasWait = d, true
		} else if c.cfg.Wait != nil {
			f.wait, f.hasWait = c.cfg.Wait(h)
		}
	}
	return f
}

func (c *Client) describe(code int, body []byte) string {
	if c.cfg.Describe != nil {
		return c.clean(c.cfg.Describe(code, body))
	}
	return fmt.Sprintf("HTTP %d", code)
}

// broken judges an attempt that got no complete answer: a timeout or a transport error
// is retried; a certificate error, or one of no known kind, is final.
func (c *Client) broken(ctx context.Context, name string, timeout time.Duration, err error) *failure {
	if ctx.Err() != nil {
		dl, _ := ctx.Deadline()
		switch {
		case !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return &failure{text: ctx.Err().Error()}
		case dl.Equal(c.deadline):
			return &failure{text: fmt.Sprintf("cut off by the source's time limit (SourceTimeout %s): %v", c.policy.SourceTimeout, ctx.Err())}
		}
		return &failure{text: fmt.Sprintf("no complete answer within %s (RequestTimeout): %v", timeout, ctx.Err())}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL may be long and hold a query: the name says enough
	}
	if !transient(err) {
		return &failure{final: fmt.Errorf("%s: %s", name, c.clean(err.Error()))}
	}
	return &failure{text: c.clean(err.Error())}
}

// Retryable reports whether an HTTP status is tried again: 408, 429, 500, 502, 503, 504.
func Retryable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transient reports whether err is a transport failure that another attempt may not
// meet: a reset, a refused or dropped connection, a timeout, a body cut short. A
// certificate error is not.
func transient(err error) bool {
	var (
		unknown   x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		opErr     *net.OpError
		netErr    net.Error
		urlErr    *url.Error
		dnsErr    *net.DNSError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify), errors.As(err, &header):
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.As(err, &opErr), errors.As(err, &urlErr), errors.As(err, &dnsErr):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	case errors.As(err, &syntaxErr):
		return cutShort(err) // another library's decoding of a cut answer
	}
	// net/http's own transport errors are plain texts: HTTP/2 streams and connections
	// lost, a malformed answer (a proxy's), a server closing an idle connection.
	s := err.Error()
	for _, t := range []string{"http2: ", "stream error", "malformed HTTP", "server closed idle connection", "connection reset"} {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// cutShort reports whether a decoding error shows the body cut short: an unexpected
// EOF, or JSON that ends before its value does.
func cutShort(err error) bool {
	var se *json.SyntaxError
	// encoding/json's words for input that ends inside a value (scanner.go).
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) && se.Error() == "unexpected end of JSON input"
}
