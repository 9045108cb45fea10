package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"closedloop/extract"
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

// client talks to one org's REST API. Safe for concurrent use.
type client struct {
	base, version string
	http          *http.Client
	log           *slog.Logger
	retries       int
	backoff       time.Duration
	maxWait       time.Duration
	callTimeout   time.Duration
	sleep         func(ctx context.Context, d time.Duration) error

	auth auth

	mu        sync.Mutex
	describes map[string]*describe
	lastLimit string
	warned    bool
}

// auth holds the access token: a fixed one, or one from the client-credentials flow
// that is fetched again once when the API says it expired.
type auth struct {
	mu                               sync.Mutex
	token                            string
	gen                              int // bumped by every new token
	clientID, clientSecret, tokenURL string
}

func (a *auth) refreshable() bool { return a.clientID != "" }

// redactLocked removes the token and the client secret from a text that came from
// the network. The caller holds a.mu.
func (a *auth) redactLocked(s string) string {
	for _, sec := range []string{a.token, a.clientSecret} {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// redact removes secrets from a text that came from the network.
func (c *client) redact(s string) string {
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	return c.auth.redactLocked(s)
}

// failure describes a failed request for a log line or an error.
func failure(status int, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return parseAPIError(status, body).Error()
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
func (c *client) token() (string, int) {
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	return c.auth.token, c.auth.gen
}

// refresh fetches a new token unless one newer than generation gen exists already
// (another request refreshed it meanwhile).
func (c *client) refresh(ctx context.Context, gen int) error {
	a := &c.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen {
		return nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.clientID}, "client_secret": {a.clientSecret}}
	for attempt := 0; ; attempt++ {
		status, hdr, body, err := c.send(ctx, http.MethodPost, a.tokenURL, "", form)
		retry := err != nil || status == http.StatusTooManyRequests || status >= 500
		if retry && attempt < c.retries {
			wait := c.wait(attempt, hdr)
			c.log.Warn("salesforce: token request failed, retrying", "error", a.redactLocked(failure(status, body, err)), "wait", wait.String())
			if err := c.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("salesforce: token request to %s: %s", a.tokenURL, a.redactLocked(err.Error()))
		}
		if status != http.StatusOK {
			e := parseAPIError(status, body)
			if status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden {
				return fmt.Errorf("%w: salesforce: the token endpoint %s refused the client credentials (%s): check %s and %s, and that the connected app allows the client-credentials flow with a run-as user",
					extract.ErrAuth, a.tokenURL, a.redactLocked(e.Error()), envClientID, envClientSecret)
			}
			return fmt.Errorf("salesforce: token request to %s: %s", a.tokenURL, a.redactLocked(e.Error()))
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			InstanceURL string `json:"instance_url"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			return fmt.Errorf("salesforce: the token endpoint %s answered without an access_token: check that %s is the org's token URL", a.tokenURL, a.tokenURL)
		}
		a.token = tok.AccessToken
		a.gen++
		return nil
	}
}

// send makes one HTTP request under its own deadline and reads the whole answer.
func (c *client) send(ctx context.Context, method, target, token string, form url.Values) (status int, hdr http.Header, body []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(body) > maxBody {
		return 0, nil, nil, fmt.Errorf("answer larger than %d MiB", maxBody>>20)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// wait is how long to wait before retry attempt+1: the server's Retry-After
// (seconds or an HTTP date) when it sent one, else exponential backoff; both capped
// at maxWait.
func (c *client) wait(attempt int, hdr http.Header) time.Duration {
	d := c.backoff << attempt
	if ra, ok := extract.RetryAfter(hdr.Get("Retry-After")); ok {
		d = ra
	}
	if d > c.maxWait || d < 0 {
		d = c.maxWait
	}
	return d
}

func (c *client) describeFailure(status int, body []byte, err error) string {
	return c.redact(failure(status, body, err))
}

// get GETs path (below the instance URL) with the token: retried on 429, 5xx and
// network errors, the token refreshed once on 401 when it can be.
func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	refreshed := false
	for attempt := 0; ; {
		token, gen := c.token()
		status, hdr, body, err := c.send(ctx, http.MethodGet, c.base+path, token, nil)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil {
			c.noteLimits(hdr)
		}
		switch {
		case err == nil && status == http.StatusOK:
			return body, nil
		case err == nil && status == http.StatusUnauthorized:
			if c.auth.refreshable() && !refreshed {
				refreshed = true
				if err := c.refresh(ctx, gen); err != nil {
					return nil, err
				}
				continue
			}
			return nil, c.authError(parseAPIError(status, body))
		case err != nil || status == http.StatusTooManyRequests || status >= 500:
			if attempt >= c.retries {
				return nil, fmt.Errorf("salesforce: GET %s: %s; gave up after %d attempts: try again later", shortPath(path), c.describeFailure(status, body, err), attempt+1)
			}
			wait := c.wait(attempt, hdr)
			c.log.Warn("salesforce: request failed, retrying", "path", shortPath(path), "error", c.describeFailure(status, body, err), "wait", wait.String())
			if err := c.sleep(ctx, wait); err != nil {
				return nil, err
			}
			attempt++
			continue
		}
		e := parseAPIError(status, body)
		e.message = c.redact(e.message)
		switch {
		case status == http.StatusNotFound || e.code == "NOT_FOUND" || e.code == "INVALID_TYPE":
			return nil, fmt.Errorf("%w: %s", errNotFound, e)
		case e.code == "REQUEST_LIMIT_EXCEEDED":
			c.mu.Lock()
			usage := c.lastLimit
			c.mu.Unlock()
			return nil, fmt.Errorf("salesforce: the org's API request limit is used up (%s; last Sforce-Limit-Info: %q): the run stops; run it again once the rolling 24-hour window frees requests, or ask Salesforce for a higher limit", e, usage)
		case status == http.StatusForbidden:
			return nil, fmt.Errorf("%w: salesforce: GET %s: %s: give the API user the permissions it lacks (API Enabled, read access to the object)", extract.ErrAuth, shortPath(path), e)
		case status == http.StatusBadRequest:
			return nil, fmt.Errorf("salesforce: GET %s: %s: Salesforce refused a request closedloop built; this is a bug in closedloop, please report it with this message", c.redact(path), e)
		}
		return nil, fmt.Errorf("salesforce: GET %s: %s", shortPath(path), e)
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
	body, err := c.get(ctx, "/services/data/"+c.version+"/sobjects/"+url.PathEscape(name)+"/describe")
	if err != nil {
		return nil, err
	}
	var resp struct {
		Fields []struct {
			Name             string `json:"name"`
			RelationshipName string `json:"relationshipName"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("salesforce: describe %s: not the JSON of a describe: %v", name, err)
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
		body, err := s.c.get(ctx, path)
		if err != nil {
			return fmt.Errorf("%w (reading %s, page %d)", err, obj.name, page)
		}
		var resp struct {
			Done           bool              `json:"done"`
			NextRecordsURL string            `json:"nextRecordsUrl"`
			Records        []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("salesforce: %s query page %d: not a query result: %v", obj.name, page, err)
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
