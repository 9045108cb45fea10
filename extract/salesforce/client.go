package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"closedloop/extract"
	"closedloop/extract/httpretry"
)

// Variables of the closedloop command that configure API mode: errors name the one
// to fix.
const (
	envInstanceURL  = "CLOSEDLOOP_SALESFORCE_INSTANCE_URL"
	envToken        = "CLOSEDLOOP_SALESFORCE_TOKEN"
	envClientID     = "CLOSEDLOOP_SALESFORCE_CLIENT_ID"
	envClientSecret = "CLOSEDLOOP_SALESFORCE_CLIENT_SECRET"
	envCookieField  = "CLOSEDLOOP_SALESFORCE_COOKIE_FIELD"
)

// maxBody bounds one response body. A query page holds at most 2,000 records of a
// few KiB; far more means something else answered.
const maxBody = 256 << 20

// errNotFound is an object the org does not have (REST 404 NOT_FOUND or INVALID_TYPE).
var errNotFound = errors.New("not found")

// apiError is an error response of the REST API: a JSON array of
// {"errorCode", "message"}, or an OAuth {"error", "error_description"}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.code, e.message, e.status)
}

func parseAPIError(status int, body []byte) *apiError {
	e := &apiError{status: status}
	var list []struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		e.code, e.message = list[0].ErrorCode, list[0].Message
		return e
	}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
		e.code, e.message = oauth.Error, oauth.Description
	}
	return e
}

// Defaults of Config.Retry where they differ from package httpretry's.
const (
	// DefaultRate and DefaultBurst pace the requests: 10 a second, bursts of 10.
	// Salesforce limits API requests per rolling 24 hours (Sforce-Limit-Info, warned of
	// at 90 %), not per second, so pacing cannot spare that allowance; it only keeps the
	// reader from flooding the org, and a query page of up to 2,000 records is never
	// slowed by it.
	DefaultRate  = rate.Limit(10)
	DefaultBurst = 10
	// DefaultRequestTimeout bounds one attempt: Salesforce runs a REST query for up to
	// 120 s before it stops it itself (QUERY_TIMEOUT), so a slow first page is not cut.
	DefaultRequestTimeout = 2 * time.Minute
)

// client talks to one org's REST API. Safe for concurrent use.
type client struct {
	base, version string
	log           *slog.Logger
	rt            *httpretry.Client

	auth auth

	mu        sync.Mutex
	describes map[string]*describe
	lastLimit string
	warned    bool
}

// auth holds the access token: a fixed one, or one from the client-credentials flow
// that is fetched again once when the API says it expired.
type auth struct {
	mu                               sync.Mutex // held by a refresh
	cur                              atomic.Pointer[token]
	clientID, clientSecret, tokenURL string
}

// token is an access token and its generation, bumped by every new token.
type token struct {
	value string
	gen   int
}

func (a *auth) refreshable() bool { return a.clientID != "" }

// redact removes the token and the client secret from a text that came from the
// network.
func (c *client) redact(s string) string {
	secrets := []string{c.auth.clientSecret}
	if t := c.auth.cur.Load(); t != nil {
		secrets = append(secrets, t.value)
	}
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// start fetches the first token of the client-credentials flow, so that bad
// credentials fail the run before anything is read.
func (c *client) start(ctx context.Context) error {
	if !c.auth.refreshable() {
		return nil
	}
	return c.refresh(ctx, 0)
}

// token returns the current token and its generation.
func (c *client) token() token {
	if t := c.auth.cur.Load(); t != nil {
		return *t
	}
	return token{}
}

// refresh fetches a new token unless one newer than generation gen exists already
// (another request refreshed it meanwhile).
func (c *client) refresh(ctx context.Context, gen int) error {
	a := &c.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.token().gen != gen {
		return nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.clientID}, "client_secret": {a.clientSecret}}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	resp, err := c.rt.Do(ctx, &httpretry.Request{Method: http.MethodPost, URL: a.tokenURL, Name: "POST " + a.tokenURL,
		Header: http.Header{"Accept": {"application/json"}, "Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   []byte(form.Encode()), MaxBody: maxBody,
		Decode: func(b []byte) error {
			if err := json.Unmarshal(b, &tok); err != nil {
				return fmt.Errorf("salesforce: the token endpoint %s answered without an access_token (%w): check that %s is the org's token URL",
					a.tokenURL, err, a.tokenURL)
			}
			return nil
		}})
	if err != nil {
		return fmt.Errorf("salesforce: token request: %w", err)
	}
	if resp.Status != http.StatusOK {
		e := parseAPIError(resp.Status, resp.Body)
		e.message = c.redact(e.message)
		if resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
			return fmt.Errorf("%w: salesforce: the token endpoint %s refused the client credentials (%s): check %s and %s, and that the connected app allows the client-credentials flow with a run-as user",
				extract.ErrAuth, a.tokenURL, e, envClientID, envClientSecret)
		}
		return fmt.Errorf("salesforce: token request to %s: %s", a.tokenURL, e)
	}
	if tok.AccessToken == "" {
		return fmt.Errorf("salesforce: the token endpoint %s answered without an access_token: check that %s is the org's token URL", a.tokenURL, a.tokenURL)
	}
	a.cur.Store(&token{value: tok.AccessToken, gen: gen + 1})
	return nil
}

// get GETs path (below the instance URL) with the token and reads the answer with
// decode: retried under Config.Retry, the token refreshed once on 401 when it can be.
func (c *client) get(ctx context.Context, path string, decode func([]byte) error) error {
	refreshed := false
	for {
		tok := c.token()
		resp, err := c.rt.Do(ctx, &httpretry.Request{Method: http.MethodGet, URL: c.base + path, Name: "GET " + shortPath(path),
			Header: http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + tok.value}}, MaxBody: maxBody, Decode: decode})
		var ge *httpretry.Error
		switch {
		case errors.As(err, &ge):
			return fmt.Errorf("salesforce: %w", err)
		case err != nil:
			return err
		}
		c.noteLimits(resp.Header)
		if resp.Status == http.StatusOK {
			return nil
		}
		if resp.Status == http.StatusUnauthorized {
			if c.auth.refreshable() && !refreshed {
				refreshed = true
				if err := c.refresh(ctx, tok.gen); err != nil {
					return err
				}
				continue
			}
			return c.authError(parseAPIError(resp.Status, resp.Body))
		}
		e := parseAPIError(resp.Status, resp.Body)
		e.message = c.redact(e.message)
		switch {
		case resp.Status == http.StatusNotFound || e.code == "NOT_FOUND" || e.code == "INVALID_TYPE":
			return fmt.Errorf("%w: %s", errNotFound, e)
		case e.code == "REQUEST_LIMIT_EXCEEDED":
			c.mu.Lock()
			usage := c.lastLimit
			c.mu.Unlock()
			return fmt.Errorf("salesforce: the org's API request limit is used up (%s; last Sforce-Limit-Info: %q): the run stops; run it again once the rolling 24-hour window frees requests, or ask Salesforce for a higher limit", e, usage)
		case resp.Status == http.StatusForbidden:
			return fmt.Errorf("%w: salesforce: GET %s: %s: give the API user the permissions it lacks (API Enabled, read access to the object)", extract.ErrAuth, shortPath(path), e)
		case resp.Status == http.StatusBadRequest:
			return fmt.Errorf("salesforce: GET %s: %s: Salesforce refused a request closedloop built; this is a bug in closedloop, please report it with this message", c.redact(path), e)
		}
		return fmt.Errorf("salesforce: GET %s: %s", shortPath(path), e)
	}
}

// authError is the error of a refused token: it names the variable to fix.
func (c *client) authError(e *apiError) error {
	e.message = c.redact(e.message)
	if c.auth.refreshable() {
		return fmt.Errorf("%w: salesforce: the API refused a token fresh from the client-credentials flow (%s): check %s and %s and the connected app's run-as user and IP restrictions",
			extract.ErrAuth, e, envClientID, envClientSecret)
	}
	return fmt.Errorf("%w: salesforce: the API refused the access token (%s): set a valid token in %s (or use %s and %s for the client-credentials flow)",
		extract.ErrAuth, e, envToken, envClientID, envClientSecret)
}

// noteLimits logs Sforce-Limit-Info (api-usage=used/limit) at debug, and warns once
// when 90 % of the daily limit is used.
func (c *client) noteLimits(hdr http.Header) {
	v := hdr.Get("Sforce-Limit-Info")
	if v == "" {
		return
	}
	c.log.Debug("salesforce: api usage", "limit_info", v)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastLimit = v
	if c.warned {
		return
	}
	for _, part := range strings.Split(v, ";") {
		used, limit, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(part), "api-usage="), "/")
		u, err1 := strconv.Atoi(used)
		l, err2 := strconv.Atoi(limit)
		if ok && err1 == nil && err2 == nil && l > 0 && u*10 >= l*9 {
			c.warned = true
			c.log.Warn("salesforce: the org has used 90% of its daily API requests", "limit_info", v)
		}
	}
}

// shortPath drops the query string (the SOQL) from a path, for messages.
func shortPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// describe is what the extractor needs of an object's describe: its field names
// and relationship names, lower-cased.
type describe struct {
	fields, relationships map[string]bool
}

// describeObject returns the describe of object name (GET
// /services/data/vXX.X/sobjects/NAME/describe), cached.
func (c *client) describeObject(ctx context.Context, name string) (*describe, error) {
	c.mu.Lock()
	d, ok := c.describes[name]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	var resp struct {
		Fields []struct {
			Name             string `json:"name"`
			RelationshipName string `json:"relationshipName"`
		} `json:"fields"`
	}
	err := c.get(ctx, "/services/data/"+c.version+"/sobjects/"+url.PathEscape(name)+"/describe", func(b []byte) error {
		if err := json.Unmarshal(b, &resp); err != nil {
			return fmt.Errorf("salesforce: describe %s: not the JSON of a describe: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d = &describe{fields: map[string]bool{}, relationships: map[string]bool{}}
	for _, f := range resp.Fields {
		d.fields[strings.ToLower(f.Name)] = true
		if f.RelationshipName != "" {
			d.relationships[strings.ToLower(f.RelationshipName)] = true
		}
	}
	c.mu.Lock()
	c.describes[name] = d
	c.mu.Unlock()
	return d, nil
}

// has reports whether the describe has field f; a dotted field (UserRole.Name) needs
// its relationship.
func (d *describe) has(f string) bool {
	if rel, _, ok := strings.Cut(f, "."); ok {
		return d.relationships[strings.ToLower(rel)]
	}
	return d.fields[strings.ToLower(f)]
}

// apiSource reads objects through the REST API.
type apiSource struct {
	c     *client
	since time.Time
}

func (s *apiSource) open(ctx context.Context, obj *object) (*stream, error) {
	d, err := s.c.describeObject(ctx, obj.name)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: the org has no %s object visible to the API user", errAbsent, obj.name)
	}
	if err != nil {
		return nil, err
	}
	has := make([]bool, len(obj.fields))
	for i, f := range obj.fields {
		has[i] = d.has(f)
	}
	for _, f := range obj.required {
		if !has[obj.index(f)] {
			return nil, fmt.Errorf("%w: salesforce: the %s object has no field %s visible to the API user: grant the user read access to it (field-level security)",
				extract.ErrConfig, obj.name, f)
		}
	}
	verb := "query"
	if obj.queryAll {
		verb = "queryAll"
	}
	q := obj.soql(has, s.since)
	first := "/services/data/" + s.c.version + "/" + verb + "?q=" + url.QueryEscape(q)
	return &stream{has: has, name: "REST " + verb, each: func(ctx context.Context, fn func(*record) error) error {
		return s.query(ctx, obj, first, fn)
	}}, nil
}

// query walks a query's pages: the first answer, then nextRecordsUrl until done.
func (s *apiSource) query(ctx context.Context, obj *object, path string, fn func(*record) error) error {
	rec := &record{vals: make([]string, len(obj.fields))}
	for page := 1; ; page++ {
		var resp struct {
			Done           bool              `json:"done"`
			NextRecordsURL string            `json:"nextRecordsUrl"`
			Records        []json.RawMessage `json:"records"`
		}
		err := s.c.get(ctx, path, func(b []byte) error {
			if err := json.Unmarshal(b, &resp); err != nil {
				return fmt.Errorf("salesforce: %s query page %d: not a query result: %w", obj.name, page, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%w (reading %s, page %d)", err, obj.name, page)
		}
		for _, raw := range resp.Records {
			if err := ctx.Err(); err != nil {
				return err
			}
			decodeRecord(obj, raw, rec)
			if err := fn(rec); err != nil {
				return err
			}
		}
		if resp.Done {
			return nil
		}
		next := resp.NextRecordsURL
		if !strings.HasPrefix(next, "/services/data/") || next == path {
			return fmt.Errorf("salesforce: %s query page %d: done is false but nextRecordsUrl is %q, not a further page of this org", obj.name, page, next)
		}
		path = next
	}
}

// decodeRecord fills rec from one JSON record. A field that is not a plain value
// marks the record bad.
func decodeRecord(obj *object, raw json.RawMessage, rec *record) {
	*rec = record{vals: rec.vals[:len(obj.fields)], raw: func() string { return string(raw) }}
	clear(rec.vals)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		rec.bad = "not a JSON object: " + err.Error()
		return
	}
	var parents map[string]map[string]json.RawMessage // decoded once for all its fields (Account.Name, Account.Industry)
	for i, f := range obj.fields {
		parent, child, dotted := strings.Cut(f, ".")
		v, ok := lookup(m, parent)
		if !ok {
			continue
		}
		if dotted {
			sub, seen := parents[parent]
			if !seen {
				if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &sub) != nil {
					sub = nil // null parent
				}
				if parents == nil {
					parents = map[string]map[string]json.RawMessage{}
				}
				parents[parent] = sub
			}
			if v, ok = lookup(sub, child); !ok {
				continue
			}
		}
		s, err := jsonText(v)
		if err != nil && rec.bad == "" {
			rec.bad = "field " + f + ": " + err.Error()
		}
		rec.vals[i] = s
	}
}

// lookup finds key k in m, with the exact case first (Salesforce answers with the
// describe's spelling), then without regard to case.
func lookup(m map[string]json.RawMessage, k string) (json.RawMessage, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return nil, false
}

// jsonText gives a JSON scalar as text: strings unquoted, numbers and booleans as
// written, null as "".
func jsonText(v json.RawMessage) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	switch v[0] {
	case 'n':
		return "", nil
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		if err == nil && !utf8.Valid(v) {
			// encoding/json made U+FFFD of the bad bytes: keep the string as it came,
			// for the record's text check to reject it as the file reader does.
			s = string(v[1 : len(v)-1])
		}
		return s, err
	case '{', '[':
		return "", fmt.Errorf("want a value, got %.40s", v)
	}
	return string(v), nil
}

// checkInstanceURL accepts https URLs, and http only on the loopback interface
// (tests): a token must not cross the network in clear.
func checkInstanceURL(raw, variable string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%w: salesforce: %s %q is not a URL like https://acme.my.salesforce.com", extract.ErrConfig, variable, raw)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("%w: salesforce: %s %q: use https (the access token must not cross the network in clear)", extract.ErrConfig, variable, raw)
		}
	}
	return u.String(), nil
}
