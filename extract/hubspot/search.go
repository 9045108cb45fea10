package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// searchRequest is the body of POST /crm/v3/objects/{type}/search.
type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []sortSpec    `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value"`
}

type sortSpec struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// search calls fn with every page of the objects modified since the watermark,
// sorted by modified. One query pages through at most SearchMaxResults results, so
// the read goes in windows: when a window is used up, the next starts at the last
// modification time seen. Should more records than a window holds share one
// modification time (a bulk import), that instant is walked by hs_object_id before
// moving past it. Records met twice (at a window's edge, or modified during the
// read) are passed once.
func (x *run) search(ctx context.Context, c *client, object, modified string, props []string, fn func(label string, page []json.RawMessage) error) error {
	maxResults := x.e.cfg.SearchMaxResults
	limit := min(searchLimit, maxResults)
	path := "/crm/v3/objects/" + object + "/search"
	props = append(append([]string(nil), props...), modified)
	seen := map[string]bool{}

	from := x.e.cfg.Since.UnixMilli() // window: modified >= from (> from once the instant is done)
	strict := false
	tie, tieAfter := false, "0" // walking the instant from by hs_object_id > tieAfter
	for {
		req := searchRequest{Properties: props, Limit: limit}
		op := "GTE"
		if strict {
			op = "GT"
		}
		if tie {
			req.FilterGroups = []filterGroup{{Filters: []filter{
				{PropertyName: modified, Operator: "EQ", Value: strconv.FormatInt(from, 10)},
				{PropertyName: "hs_object_id", Operator: "GT", Value: tieAfter},
			}}}
			req.Sorts = []sortSpec{{PropertyName: "hs_object_id", Direction: "ASCENDING"}}
		} else {
			req.FilterGroups = []filterGroup{{Filters: []filter{{PropertyName: modified, Operator: op, Value: strconv.FormatInt(from, 10)}}}}
			req.Sorts = []sortSpec{{PropertyName: modified, Direction: "ASCENDING"}}
		}
		lastMod, lastID, full := int64(-1), "", false
		for {
			var page listPage
			if err := c.post(ctx, path, req, &page); err != nil {
				return fmt.Errorf("%s: %s search: %w", x.e.cfg.Spec, object, err)
			}
			fresh := page.Results[:0:0]
			for _, rec := range page.Results {
				var k struct {
					ID         value            `json:"id"`
					Properties map[string]value `json:"properties"`
				}
				if json.Unmarshal(rec, &k) == nil {
					id := k.ID.str()
					if ts, err := parseTime("datetime", k.Properties[modified].str()); err == nil && !ts.IsZero() {
						lastMod = ts.UnixMilli()
					}
					lastID = id
					if id != "" {
						if seen[id] {
							continue
						}
						seen[id] = true
					}
				}
				fresh = append(fresh, rec) // an undecodable record is rejected by fn
			}
			label := object + " search from=" + strconv.FormatInt(from, 10) + " after=" + req.After
			if err := fn(label, fresh); err != nil {
				return err
			}
			next := page.Paging.Next.After.str()
			if next == "" {
				break
			}
			n, err := strconv.Atoi(next)
			if err != nil || n+limit > maxResults {
				full = true
				break
			}
			req.After = next
		}
		switch {
		case tie && full && (lastID == "" || lastID == tieAfter):
			return fmt.Errorf("%s: %s search: results carry no usable hs_object_id, so the read cannot go on past %d results", x.e.cfg.Spec, object, maxResults)
		case tie && full:
			tieAfter = lastID
		case tie:
			tie, strict = false, true // the instant is done: go on after it
		case !full:
			return nil
		case lastMod < 0:
			return fmt.Errorf("%s: %s search: results carry no %s, so the read cannot go on past %d results", x.e.cfg.Spec, object, modified, maxResults)
		case lastMod == from:
			tie, tieAfter = true, "0" // a whole window at one instant
		default:
			from, strict = lastMod, false
		}
	}
}
