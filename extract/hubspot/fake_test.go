package hubspot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeHubSpot replays the documented HubSpot API over the records of a v3 export
// folder: every response is built from the folder's lines as they are (raw JSON), so
// the extractor's decoding is not reused to build what it reads. It pages with
// pageSize whatever limit is asked, caps a search query at searchCap results (a 400
// beyond, as HubSpot does at 10,000), and records every request.
type fakeHubSpot struct {
	t         *testing.T
	dir       string
	token     string
	pageSize  int
	assocPage int // association targets per page of one object
	searchCap int
	gone      map[string]bool // ids batch reads no longer find (deleted after the list)

	// fail, when set, may answer a request instead of the fake (n counts the
	// requests of that method and path, from 1), or set headers and return false.
	fail func(w http.ResponseWriter, r *http.Request, n int) bool

	mu       sync.Mutex
	requests []request
	counts   map[string]int
}

// request is one request the fake received.
type request struct {
	method, path string
	query        url.Values
	body         string
	auth         string
}

func newFake(t *testing.T, dir string) (*fakeHubSpot, *httptest.Server) {
	f := &fakeHubSpot{t: t, dir: dir, token: "pat-na1-11111111-2222-3333-4444-555555555555",
		pageSize: 2, assocPage: 1, searchCap: 10000, counts: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// all returns the recorded requests.
func (f *fakeHubSpot) all() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// calls returns the recorded requests of method and path.
func (f *fakeHubSpot) calls(method, path string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.requests {
		if r.method == method && r.path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeHubSpot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, request{r.Method, r.URL.Path, r.URL.Query(), string(body), r.Header.Get("Authorization")})
	key := r.Method + " " + r.URL.Path
	f.counts[key]++
	n := f.counts[key]
	f.mu.Unlock()
	if f.fail != nil && f.fail(w, r, n) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": "error", "category": "INVALID_AUTHENTICATION",
			"message": "Authentication credentials not found. This API supports OAuth 2.0 authentication.", "correlationId": "c-1"})
		return
	}
	for k, v := range map[string]string{"Max": "190", "Remaining": "180", "Interval-Milliseconds": "10000"} {
		if w.Header().Get("X-HubSpot-RateLimit-"+k) == "" { // fail may have set them
			w.Header().Set("X-HubSpot-RateLimit-"+k, v)
		}
	}
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && len(p) == 4 && p[0] == "crm" && p[2] == "properties":
		f.file(w, map[string]string{"contacts": ContactPropertiesFile, "deals": DealPropertiesFile}[p[3]])
	case r.Method == "GET" && r.URL.Path == "/crm/v3/pipelines/deals":
		f.file(w, PipelinesFile)
	case r.Method == "GET" && r.URL.Path == "/crm/v3/owners":
		arch := r.URL.Query().Get("archived") == "true"
		f.list(w, r, f.records(OwnersFile, func(o rec) bool { return o.Archived == arch }))
	case r.Method == "GET" && len(p) == 4 && p[2] == "objects":
		require.Empty(f.t, r.URL.Query().Get("propertiesWithHistory"), "history is read by batch read")
		f.list(w, r, f.records(p[3]+".ndjson", func(o rec) bool { return !o.Archived }))
	case r.Method == "POST" && len(p) == 5 && p[2] == "objects" && p[4] == "search":
		f.search(w, p[3], body)
	case r.Method == "POST" && len(p) == 6 && p[2] == "objects" && p[4] == "batch" && p[5] == "read":
		f.batchRead(w, p[3], body)
	case r.Method == "POST" && len(p) == 7 && p[1] == "v4" && p[5] == "batch":
		f.associations(w, p[3], p[4], body)
	case r.Method == "GET" && r.URL.Path == "/email/public/v1/events":
		f.events(w, r)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/email/public/v1/campaigns/"):
		id := strings.TrimPrefix(r.URL.Path, "/email/public/v1/campaigns/")
		for _, c := range f.records(EmailCampaignsFile, nil) {
			if c.ID.str() == id {
				w.Header().Set("Content-Type", "application/json")
				w.Write(c.raw)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "resource not found"})
	default:
		f.t.Errorf("fake HubSpot: unexpected request %s %s", r.Method, r.URL)
		writeJSON(w, http.StatusNotFound, map[string]any{"status": "error", "message": "not found"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// rec is one line of a folder file, with what the fake filters on.
type rec struct {
	raw        json.RawMessage
	ID         value            `json:"id"`
	Archived   bool             `json:"archived"`
	Properties map[string]value `json:"properties"`
	Type       string           `json:"type"`
	Created    int64            `json:"created"`
	Filtered   bool             `json:"filteredEvent"`

	History map[string]json.RawMessage `json:"propertiesWithHistory"`
}

// records reads the lines of file name that keep says to keep (nil keeps all).
func (f *fakeHubSpot) records(name string, keep func(rec) bool) []rec {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(f.t, err)
	var out []rec
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var o rec
		require.NoError(f.t, json.Unmarshal(line, &o), "fake HubSpot serves only valid JSON: %s", line)
		o.raw = append(json.RawMessage(nil), line...)
		if o.History != nil {
			// Lists and searches return no history: it is asked for by batch read. The
			// line is re-encoded without it (keys sorted), so only lines without
			// history are served exactly as written.
			var m map[string]json.RawMessage
			require.NoError(f.t, json.Unmarshal(line, &m))
			delete(m, "propertiesWithHistory")
			o.raw, _ = json.Marshal(m)
		}
		if keep == nil || keep(o) {
			out = append(out, o)
		}
	}
	return out
}

func (f *fakeHubSpot) file(w http.ResponseWriter, name string) {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if os.IsNotExist(err) {
		b = []byte(`{"results":[]}`)
	} else {
		require.NoError(f.t, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// list answers a v3 list request: pageSize results from after (an index).
func (f *fakeHubSpot) list(w http.ResponseWriter, r *http.Request, all []rec) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	require.LessOrEqual(f.t, limit, 100, "list limit")
	from := 0
	if a := r.URL.Query().Get("after"); a != "" {
		from, _ = strconv.Atoi(strings.TrimPrefix(a, "cursor-"))
	}
	to := min(from+min(limit, f.pageSize), len(all))
	res := []json.RawMessage{}
	for _, o := range all[from:to] {
		res = append(res, o.raw)
	}
	out := map[string]any{"results": res}
	if to < len(all) {
		// Cursors are opaque strings: not plain offsets.
		out["paging"] = map[string]any{"next": map[string]any{"after": "cursor-" + strconv.Itoa(to), "link": "?after=cursor-" + strconv.Itoa(to)}}
	}
	writeJSON(w, http.StatusOK, out)
}

// search answers a v3 search: filters on one property (modified) and hs_object_id,
// one sort, offset paging, capped at searchCap.
func (f *fakeHubSpot) search(w http.ResponseWriter, object string, body []byte) {
	var req searchRequest
	require.NoError(f.t, json.Unmarshal(body, &req))
	require.Len(f.t, req.FilterGroups, 1)
	require.Len(f.t, req.Sorts, 1)
	require.LessOrEqual(f.t, req.Limit, 200, "search limit")
	after, _ := strconv.Atoi(req.After)
	if after+req.Limit > f.searchCap {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "category": "VALIDATION_ERROR",
			"message": fmt.Sprintf("The maximum number of results is %d", f.searchCap)})
		return
	}
	num := func(o rec, prop string) int64 {
		s := o.Properties[prop].str()
		if prop == "hs_object_id" {
			s = o.ID.str()
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		ts, err := parseTime("datetime", s)
		require.NoError(f.t, err)
		return ts.UnixMilli()
	}
	var hits []rec
	for _, o := range f.records(object+".ndjson", func(o rec) bool { return !o.Archived }) {
		ok := true
		for _, fl := range req.FilterGroups[0].Filters {
			v, _ := strconv.ParseInt(fl.Value, 10, 64)
			n := num(o, fl.PropertyName)
			switch fl.Operator {
			case "GTE":
				ok = ok && n >= v
			case "GT":
				ok = ok && n > v
			case "EQ":
				ok = ok && n == v
			default:
				f.t.Errorf("fake HubSpot: operator %s", fl.Operator)
			}
		}
		if ok {
			hits = append(hits, o)
		}
	}
	sortBy := req.Sorts[0].PropertyName
	slices.SortStableFunc(hits, func(a, b rec) int {
		if c := num(a, sortBy) - num(b, sortBy); c != 0 {
			return int(c / max(c, -c))
		}
		return int(num(a, "hs_object_id") - num(b, "hs_object_id"))
	})
	to := min(after+req.Limit, len(hits))
	res := []json.RawMessage{}
	for _, o := range hits[min(after, len(hits)):to] {
		res = append(res, o.raw)
	}
	out := map[string]any{"total": len(hits), "results": res}
	if to < len(hits) {
		out["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(to)}}
	}
	writeJSON(w, http.StatusOK, out)
}

// batchRead answers a v3 batch read of objects: the ids asked for (at most 100, 50
// with history, as HubSpot allows), each with the history asked for (the line's, else
// none), the ids not found as errors (HTTP 207).
func (f *fakeHubSpot) batchRead(w http.ResponseWriter, object string, body []byte) {
	var req struct {
		Inputs                []batchInput `json:"inputs"`
		PropertiesWithHistory []string     `json:"propertiesWithHistory"`
	}
	require.NoError(f.t, json.Unmarshal(body, &req))
	if len(req.Inputs) > 100 || len(req.PropertiesWithHistory) > 0 && len(req.Inputs) > 50 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "category": "VALIDATION_ERROR",
			"message": "The maximum number of inputs supported in a batch request for property histories is 50. Please reduce the number of items and try again"})
		return
	}
	live := map[string]rec{}
	for _, o := range f.records(object+".ndjson", func(o rec) bool { return !o.Archived }) {
		live[o.ID.str()] = o
	}
	results, errs := []map[string]any{}, []map[string]any{}
	for _, in := range req.Inputs {
		o, ok := live[in.ID]
		if !ok || f.gone[in.ID] {
			errs = append(errs, map[string]any{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some " + object + " objects, they may be deleted or not exist."})
			continue
		}
		hist := map[string]json.RawMessage{}
		for _, name := range req.PropertiesWithHistory {
			hist[name] = json.RawMessage("[]")
			if h, ok := o.History[name]; ok {
				hist[name] = h
			}
		}
		results = append(results, map[string]any{"id": in.ID, "properties": map[string]any{"hs_object_id": in.ID},
			"propertiesWithHistory": hist, "archived": false})
	}
	status := http.StatusOK
	out := map[string]any{"status": "COMPLETE", "results": results, "startedAt": "2026-02-21T00:00:00Z", "completedAt": "2026-02-21T00:00:01Z"}
	if len(errs) > 0 {
		status = http.StatusMultiStatus
		out["numErrors"], out["errors"] = len(errs), errs
	}
	writeJSON(w, status, out)
}

// associations answers a v4 batch read to contacts or companies (from the folder's
// <singular>_<to>.ndjson), assocPage targets per page of each object, without
// archived targets (HubSpot returns none).
func (f *fakeHubSpot) associations(w http.ResponseWriter, from, toType string, body []byte) {
	var req struct {
		Inputs []batchInput `json:"inputs"`
	}
	require.NoError(f.t, json.Unmarshal(body, &req))
	require.LessOrEqual(f.t, len(req.Inputs), 100, "batch inputs")
	singular := strings.TrimSuffix(from, "s")
	archived := map[string]bool{}
	for _, c := range f.records(toType+".ndjson", func(o rec) bool { return o.Archived }) {
		archived[c.ID.str()] = true
	}
	var results []map[string]any
	var errs []map[string]any
	for _, in := range req.Inputs {
		var to []json.RawMessage
		for _, line := range f.records(singular+"_"+toType+".ndjson", nil) {
			var a struct {
				From struct {
					ID string `json:"id"`
				} `json:"from"`
				To []json.RawMessage `json:"to"`
			}
			require.NoError(f.t, json.Unmarshal(line.raw, &a))
			if a.From.ID != in.ID {
				continue
			}
			for _, t := range a.To {
				var tt struct {
					ToObjectID json.Number `json:"toObjectId"`
				}
				require.NoError(f.t, json.Unmarshal(t, &tt))
				if !archived[tt.ToObjectID.String()] {
					to = append(to, t)
				}
			}
		}
		if len(to) == 0 {
			errs = append(errs, map[string]any{"status": "error", "category": "OBJECT_NOT_FOUND",
				"message": "No " + toType + " are associated with " + singular + " " + in.ID, "context": map[string]any{"fromObjectId": []string{in.ID}}})
			continue
		}
		start, _ := strconv.Atoi(in.After)
		end := min(start+f.assocPage, len(to))
		res := map[string]any{"from": map[string]any{"id": in.ID}, "to": to[start:end]}
		if end < len(to) {
			res["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end), "link": nil}}
		}
		results = append(results, res)
	}
	status := http.StatusOK
	out := map[string]any{"status": "COMPLETE", "results": results, "startedAt": "2026-02-21T00:00:00Z", "completedAt": "2026-02-21T00:00:01Z"}
	if len(errs) > 0 {
		status = http.StatusMultiStatus
		out["numErrors"], out["errors"] = len(errs), errs
	}
	writeJSON(w, status, out)
}

// events answers the legacy e-mail events API: offset paging, hasMore.
func (f *fakeHubSpot) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, _ := strconv.ParseInt(q.Get("startTimestamp"), 10, 64)
	all := f.records(EmailEventsFile, func(o rec) bool {
		return (q.Get("eventType") == "" || o.Type == q.Get("eventType")) &&
			!(q.Get("excludeFilteredEvents") == "true" && o.Filtered) && o.Created >= since
	})
	from, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	to := min(from+min(limit, f.pageSize), len(all))
	res := []json.RawMessage{}
	for _, o := range all[from:to] {
		res = append(res, o.raw)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": res, "hasMore": to < len(all), "offset": strconv.Itoa(to)})
}
