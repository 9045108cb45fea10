package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOrg replays the REST API of an org holding the records of testdata/api: the
// describe, query and queryAll resources (paged through nextRecordsUrl) and the
// OAuth token endpoint of the client-credentials flow.
type fakeOrg struct {
	t        *testing.T
	srv      *httptest.Server
	pageSize int
	objects  map[string]fakeObject

	mu       sync.Mutex
	token    string   // the token the API accepts
	issue    []string // tokens the token endpoint hands out, in turn
	issued   int
	requests []fakeRequest
	cursors  map[string][]map[string]any
	// fault, when set, may answer request n (1-based, token requests included)
	// instead of the org.
	fault func(n int, w http.ResponseWriter, r *http.Request) bool
	// afterToken, when set, is called after each token request.
	afterToken func(n int)
}

type fakeObject struct {
	Fields []struct {
		Name             string  `json:"name"`
		RelationshipName *string `json:"relationshipName"`
	} `json:"fields"`
	Records []map[string]any `json:"records"`
}

type fakeRequest struct {
	Method, Path, Query, Auth string
	Form                      url.Values
}

const (
	clientID     = "3MVG9client-id"
	clientSecret = "S3CRET-client-secret-8A4BE698"
)

func newFakeOrg(t *testing.T, token string) *fakeOrg {
	t.Helper()
	f := &fakeOrg{t: t, pageSize: 2, objects: map[string]fakeObject{}, token: token, cursors: map[string][]map[string]any{}}
	files, err := filepath.Glob("testdata/api/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/api: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var o fakeObject
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.objects[strings.TrimSuffix(filepath.Base(p), ".json")] = o
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// log returns the requests so far.
func (f *fakeOrg) log() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakeOrg) tokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func (f *fakeOrg) setToken(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = tok
}

func sfError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `[{"message":%q,"errorCode":%q}]`, msg, code)
}

func (f *fakeOrg) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query().Get("q"),
		Auth: r.Header.Get("Authorization"), Form: r.PostForm})
	n := len(f.requests)
	fault := f.fault
	f.mu.Unlock()
	if fault != nil && fault(n, w, r) {
		return
	}
	if r.URL.Path == "/services/oauth2/token" {
		f.serveToken(w, r)
		return
	}
	f.mu.Lock()
	ok := r.Header.Get("Authorization") == "Bearer "+f.token
	f.mu.Unlock()
	if !ok {
		sfError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/15000", n))
	base := "/services/data/v62.0/"
	path, found := strings.CutPrefix(r.URL.Path, base)
	switch {
	case !found:
		sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	case strings.HasPrefix(path, "sobjects/") && strings.HasSuffix(path, "/describe"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "sobjects/"), "/describe")
		o, ok := f.objects[name]
		if !ok {
			sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
			return
		}
		writeJSON(w, map[string]any{"name": name, "fields": o.Fields})
	case path == "query" || path == "queryAll":
		f.serveQuery(w, r.URL.Query().Get("q"), path == "queryAll")
	case strings.HasPrefix(path, "query/"):
		f.servePage(w, strings.TrimPrefix(path, "query/"))
	default:
		sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeOrg) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_id") != clientID || r.PostForm.Get("client_secret") != clientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"invalid client credentials"}`)
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("00Dfake!token-%d", f.issued+1)
	if f.issued < len(f.issue) {
		tok = f.issue[f.issued]
	}
	f.issued++
	n := f.issued
	f.token = tok
	after := f.afterToken
	f.mu.Unlock()
	if after != nil {
		after(n)
	}
	writeJSON(w, map[string]any{"access_token": tok, "instance_url": f.srv.URL, "token_type": "Bearer",
		"id": "https://login.salesforce.com/id/00Dfake/005fake", "issued_at": "1767600000000", "signature": "c2lnbmF0dXJl"})
}

var (
	soqlRE  = regexp.MustCompile(`^SELECT (.+) FROM (\w+)(?: WHERE (.+))?$`)
	condRE  = regexp.MustCompile(`^(\w+) (=|!=|>=) (true|false|null|'[^']*'|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$`)
	fieldRE = regexp.MustCompile(`^\w+(\.\w+)?$`)
)

func (f *fakeOrg) serveQuery(w http.ResponseWriter, q string, all bool) {
	m := soqlRE.FindStringSubmatch(q)
	if m == nil {
		sfError(w, http.StatusBadRequest, "MALFORMED_QUERY", "unexpected token: "+q)
		return
	}
	o, ok := f.objects[m[2]]
	if !ok {
		sfError(w, http.StatusBadRequest, "INVALID_TYPE", "sObject type '"+m[2]+"' is not supported.")
		return
	}
	fields := strings.Split(m[1], ", ")
	for _, fl := range fields {
		if !fieldRE.MatchString(fl) || !f.describes(o, fl) {
			sfError(w, http.StatusBadRequest, "INVALID_FIELD", "No such column '"+fl+"' on entity '"+m[2]+"'")
			return
		}
	}
	var conds [][]string
	if m[3] != "" {
		for _, c := range strings.Split(m[3], " AND ") {
			cm := condRE.FindStringSubmatch(c)
			if cm == nil {
				sfError(w, http.StatusBadRequest, "MALFORMED_QUERY", "unexpected condition: "+c)
				return
			}
			conds = append(conds, cm[1:])
		}
	}
	var out []map[string]any
	for _, rec := range o.Records {
		if !all && rec["IsDeleted"] == true {
			continue
		}
		if !matches(rec, conds) {
			continue
		}
		p := map[string]any{"attributes": rec["attributes"]}
		for _, fl := range fields {
			parent, _, _ := strings.Cut(fl, ".")
			p[parent] = rec[parent]
		}
		out = append(out, p)
	}
	f.mu.Lock()
	id := fmt.Sprintf("01gFAKE%04d", len(f.cursors)+1)
	f.cursors[id] = out
	f.mu.Unlock()
	f.servePage(w, id+"-0")
}

func (f *fakeOrg) describes(o fakeObject, field string) bool {
	parent, _, dotted := strings.Cut(field, ".")
	for _, d := range o.Fields {
		if dotted && d.RelationshipName != nil && *d.RelationshipName == parent || !dotted && d.Name == field {
			return true
		}
	}
	return false
}

func matches(rec map[string]any, conds [][]string) bool {
	for _, c := range conds {
		v := rec[c[0]]
		switch lit := c[2]; {
		case lit == "null":
			if (v == nil) != (c[1] == "=") {
				return false
			}
		case lit == "true" || lit == "false":
			if b, _ := v.(bool); b != (lit == "true") {
				return false
			}
		case strings.HasPrefix(lit, "'"):
			if s, _ := v.(string); s != strings.Trim(lit, "'") {
				return false
			}
		default: // datetime >=
			s, _ := v.(string)
			at, err1 := time.Parse("2006-01-02T15:04:05.000-0700", s)
			since, err2 := time.Parse(time.RFC3339, lit)
			if err1 != nil || err2 != nil || at.Before(since) {
				return false
			}
		}
	}
	return true
}

func (f *fakeOrg) servePage(w http.ResponseWriter, locator string) {
	id, offS, _ := strings.Cut(locator, "-")
	var off int
	fmt.Sscan(offS, &off)
	f.mu.Lock()
	recs, ok := f.cursors[id]
	f.mu.Unlock()
	if !ok {
		sfError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	end := min(off+f.pageSize, len(recs))
	records := append([]map[string]any{}, recs[off:end]...)
	page := map[string]any{"totalSize": len(recs), "done": end >= len(recs), "records": records}
	if end < len(recs) {
		page["nextRecordsUrl"] = fmt.Sprintf("/services/data/v62.0/query/%s-%d", id, end)
	}
	writeJSON(w, page)
}
