package bqfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// rest is the BigQuery REST API of a Server: tables.list and tables.get.
type rest struct{ s *Server }

func (h rest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+"?pageToken="+r.URL.Query().Get("pageToken"))
	failWith := s.restErr
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	p, d := s.cfg.Project, s.cfg.Dataset
	if failWith != 0 {
		msg := http.StatusText(failWith)
		if failWith == http.StatusForbidden {
			msg = "Access Denied: Dataset " + p + ":" + d + ": Permission bigquery.tables.list denied"
		}
		fail(failWith, msg)
		return
	}
	// /bigquery/v2/projects/P/datasets/D/tables[/T]
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/bigquery/v2/"), "/")
	if r.Method != http.MethodGet || len(parts) < 5 || len(parts) > 6 || parts[0] != "projects" || parts[2] != "datasets" || parts[4] != "tables" {
		fail(http.StatusNotFound, "Not found: URL "+r.URL.Path)
		return
	}
	if parts[1] != p || parts[3] != d {
		fail(http.StatusNotFound, "Not found: Dataset "+parts[1]+":"+parts[3])
		return
	}
	if len(parts) == 6 {
		h.get(w, parts[5], fail)
		return
	}
	h.list(w, r)
}

// list answers tables.list: every table not Unlisted and every id of List, sorted,
// in pages of the request's maxResults (at most Config.PageSize).
func (h rest) list(w http.ResponseWriter, r *http.Request) {
	s := h.s
	s.mu.Lock()
	ids := slices.Clone(s.listed)
	for id, t := range s.tables {
		if !t.Unlisted {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	ids = slices.Compact(ids)

	size, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if size <= 0 {
		size = 1000
	}
	if s.cfg.PageSize > 0 {
		size = min(size, s.cfg.PageSize)
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("pageToken"))
	from = min(max(from, 0), len(ids))
	to := min(from+size, len(ids))
	page := []map[string]any{}
	for _, id := range ids[from:to] {
		page = append(page, map[string]any{
			"kind": "bigquery#table", "type": "TABLE", "id": s.cfg.Project + ":" + s.cfg.Dataset + "." + id,
			"tableReference": map[string]string{"projectId": s.cfg.Project, "datasetId": s.cfg.Dataset, "tableId": id},
		})
	}
	res := map[string]any{"kind": "bigquery#tableList", "tables": page, "totalItems": len(ids)}
	if to < len(ids) {
		res["nextPageToken"] = strconv.Itoa(to)
	}
	json.NewEncoder(w).Encode(res)
}

// get answers tables.get with the table's schema.
func (h rest) get(w http.ResponseWriter, id string, fail func(int, string)) {
	s := h.s
	s.mu.Lock()
	t, ok := s.tables[id]
	var schema *arrow.Schema
	if ok {
		schema = t.Schema
	}
	s.mu.Unlock()
	if !ok {
		fail(http.StatusNotFound, "Not found: Table "+s.cfg.Project+":"+s.cfg.Dataset+"."+id)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"kind":           "bigquery#table",
		"id":             s.cfg.Project + ":" + s.cfg.Dataset + "." + id,
		"type":           "TABLE",
		"tableReference": map[string]string{"projectId": s.cfg.Project, "datasetId": s.cfg.Dataset, "tableId": id},
		"schema":         map[string]any{"fields": bqFields(schema.Fields())},
	})
}

// bqFields is the BigQuery JSON schema of Arrow fields: a list is REPEATED, a struct
// a RECORD.
func bqFields(fields []arrow.Field) []map[string]any {
	out := []map[string]any{}
	for _, f := range fields {
		typ, mode := f.Type, "NULLABLE"
		if l, ok := typ.(arrow.ListLikeType); ok {
			typ, mode = l.Elem(), "REPEATED"
		} else if !f.Nullable {
			mode = "REQUIRED"
		}
		field := map[string]any{"name": f.Name, "mode": mode}
		switch t := typ.(type) {
		case *arrow.StructType:
			field["type"], field["fields"] = "RECORD", bqFields(t.Fields())
		case *arrow.Int64Type:
			field["type"] = "INTEGER"
		case *arrow.Float64Type:
			field["type"] = "FLOAT"
		case *arrow.BooleanType:
			field["type"] = "BOOLEAN"
		case *arrow.TimestampType:
			field["type"] = "TIMESTAMP"
			if t.TimeZone == "" {
				field["type"] = "DATETIME" // a civil time, as the Storage Read API sends DATETIME
			}
		case *arrow.Decimal128Type:
			field["type"] = "NUMERIC"
		case *arrow.Decimal256Type:
			field["type"] = "BIGNUMERIC"
		case *arrow.Date32Type:
			field["type"] = "DATE"
		case *arrow.BinaryType:
			field["type"] = "BYTES"
		default:
			field["type"] = "STRING"
		}
		out = append(out, field)
	}
	return out
}
