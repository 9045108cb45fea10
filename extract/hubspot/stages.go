package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"closedloop/extract"
)

// historyLimit is the most ids one batch read with propertiesWithHistory takes:
// HubSpot refuses more ("The maximum number of inputs supported in a batch request
// for property histories is 50").
const historyLimit = 50

// stageEntry is one usable value of a deal's dealstage history: the stage the deal
// entered, when, and where the value was read.
type stageEntry struct {
	id  string // stage id
	st  stage
	at  time.Time
	loc string // location column of its row
}

// stageEntry checks one history value of written deal d: id is the stage id, ts the
// time it was set, read from field tsField. It returns the entry, or the reason the
// value is unusable. Stage ids become labels through the pipelines read, looked up
// in the deal's current pipeline first.
func (x *run) stageEntry(d *dealRow, id, ts, tsField, loc string) (stageEntry, string) {
	const left = "the entry is left out of the deal's stage path"
	if id == "" {
		return stageEntry{}, "dealstage history entry has no value (the stage id): " + left + "; check the export of the stage history"
	}
	if ts == "" {
		return stageEntry{}, fmt.Sprintf("dealstage history entry for stage %q has no %s, so when the deal entered the stage is unknown: %s; check the export of the stage history", id, tsField, left)
	}
	at, err := parseTime("datetime", ts)
	if err != nil {
		return stageEntry{}, fmt.Sprintf("dealstage history entry for stage %q: %s %v: %s; check the export of the stage history", id, tsField, err, left)
	}
	if reason := extract.BadTime("dealstage history "+tsField, at, x.e.cfg.Now); reason != "" {
		return stageEntry{}, reason + ": " + left
	}
	st, reason := x.stages.entered(d.st.pipeline, id)
	if reason != "" {
		return stageEntry{}, reason
	}
	return stageEntry{id: id, st: st, at: at, loc: loc}, ""
}

// objectStages writes the stage rows of written deal d from the dealstage history
// of its CRM object (a v3 export line, an API batch read result), which lists the
// newest value first. p locates the deal; rec is its record, for rejections.
func (x *run) objectStages(ctx context.Context, r *rows, p place, d *dealRow, hist []historyEntry, rec []byte) error {
	loc, rejLoc := p.row("deal", d.id), p.reject("deal", d.id)
	if len(hist) == 0 {
		return x.currentStage(ctx, r, d, loc, rejLoc, rec)
	}
	entries := make([]stageEntry, 0, len(hist))
	for i := len(hist) - 1; i >= 0; i-- { // oldest first, so that equal times keep HubSpot's order
		h := &hist[i]
		e, reason := x.stageEntry(d, h.Value.str(), h.Timestamp.str(), "timestamp", loc)
		if reason != "" {
			if err := r.reject(ctx, rejLoc, reason, h.raw); err != nil {
				return err
			}
			continue
		}
		entries = append(entries, e)
	}
	return x.dealStages(ctx, r, d, entries)
}

// dealStages writes the stage rows of written deal d from its usable history
// entries: one row per entry into a stage, in time order (equal times in the order
// given). An entry naming the stage the deal is already in is no entry into it and
// is left out: HubSpot records a value set again (by an import, a workflow) as
// history.
func (x *run) dealStages(ctx context.Context, r *rows, d *dealRow, entries []stageEntry) error {
	slices.SortStableFunc(entries, func(a, b stageEntry) int { return a.at.Compare(b.at) })
	var in [2]string // pipeline and stage id the deal is in
	for i := range entries {
		e := &entries[i]
		if k := [2]string{e.st.pipeline, e.id}; k != in {
			in = k
			if err := r.dealStage(ctx, e.loc, d.id, x.stages.pipelineLabel(e.st.pipeline), e.st.label, e.at); err != nil {
				return err
			}
		}
	}
	return nil
}

// currentStage writes the one stage row of a deal whose source has no stage
// history for it: its current stage, entered at its createdate.
func (x *run) currentStage(ctx context.Context, r *rows, d *dealRow, loc, rejLoc string, rec []byte) error {
	if d.created.IsZero() {
		return r.reject(ctx, rejLoc, fmt.Sprintf("deal has no dealstage history and no createdate, so when it entered stage %q is unknown: set its createdate in HubSpot", d.st.label), rec)
	}
	if reason := extract.BadTime("createdate (when the deal entered its current stage, as it has no dealstage history)", d.created, x.e.cfg.Now); reason != "" {
		return r.reject(ctx, rejLoc, reason, rec)
	}
	return r.dealStage(ctx, loc, d.id, x.stages.pipelineLabel(d.st.pipeline), d.st.label, d.created)
}

// apiStageHistory reads the dealstage history of deals ids by batch read,
// historyLimit ids a request. A deal HubSpot no longer finds is absent from the
// result.
func (x *run) apiStageHistory(ctx context.Context, c *client, r *rows, ids []string) (map[string][]historyEntry, error) {
	out := make(map[string][]historyEntry, len(ids))
	body := struct {
		Inputs                []batchInput `json:"inputs"`
		Properties            []string     `json:"properties"`
		PropertiesWithHistory []string     `json:"propertiesWithHistory"`
	}{Properties: []string{"dealstage"}, PropertiesWithHistory: []string{"dealstage"}}
	for start := 0; start < len(ids); start += historyLimit {
		body.Inputs = body.Inputs[:0]
		for _, id := range ids[start:min(start+historyLimit, len(ids))] {
			body.Inputs = append(body.Inputs, batchInput{ID: id})
		}
		var resp struct {
			Results []json.RawMessage `json:"results"`
		}
		if err := c.post(ctx, "/crm/v3/objects/deals/batch/read", body, &resp); err != nil {
			return nil, fmt.Errorf("%s: deal stage history: %w", x.e.cfg.Spec, err)
		}
		for _, rec := range resp.Results {
			var o object
			if reason := decodeObject(rec, &o); reason != "" {
				if err := r.reject(ctx, "hubspot deals stage history", reason, rec); err != nil {
					return nil, err
				}
				continue
			}
			out[o.ID.str()] = o.History["dealstage"]
		}
	}
	return out, nil
}

// ftDeal is a deal of deal.csv that was written, kept for its stage history.
type ftDeal struct {
	d           dealRow
	loc, rejLoc string
	raw         []byte // the deal.csv row, kept only when the deal has no createdate
}

// ftDealStages reads the deals' stage history: deal_stage (one row per entry into a
// stage: deal_id, date_entered, else _fivetran_start, and value, the stage id), else
// the dealstage rows of deal_property_history (deal_id, name, timestamp, value).
// With neither table no stage row is written. Rows of skipped deals are dropped
// with them; rows of rejected or unknown deals are rejected.
func (x *run) ftDealStages(ctx context.Context, r *rows) error {
	t, tsCol, property := "deal_stage", "date_entered", ""
	switch {
	case x.hasTable("deal_stage"):
	case x.hasTable("deal_property_history"):
		t, tsCol, property = "deal_property_history", "timestamp", "dealstage"
	default:
		return nil
	}
	dealFile := x.tableRef("deal", false)
	hist := map[string][]stageEntry{} // deals with history rows, even if all were rejected
	err := x.eachRow(ctx, r, t, false, func(tb *table) error {
		if property != "" && tb.get("name") != property || tb.flag("_fivetran_deleted") {
			return nil
		}
		id, p := tb.get("deal_id"), tb.place()
		if reason := extract.BadText("deal_id", id); reason != "" {
			return r.reject(ctx, p.reject("", ""), reason, tb.raw())
		}
		reject := func(reason string) error { return r.reject(ctx, p.reject("deal", id), reason, tb.raw()) }
		fd, ok := x.ftDeals[id]
		switch {
		case id == "":
			return reject("stage history row without deal_id")
		case x.archived.deals[id]:
			return nil // a deleted or merged deal: no stage rows, as no deal row
		case x.rejectedDeals[id]:
			return reject(fmt.Sprintf("deal %s was rejected (see the rejection of its deal row), so its stage history is left out too", id))
		case !ok:
			return reject(fmt.Sprintf("deal %s is not in %s, so its stage history belongs to no deal read: export %s and %s at the same time",
				id, dealFile, dealFile, x.tableRef(t, false)))
		}
		ts := tb.get(tsCol)
		if ts == "" && t == "deal_stage" {
			ts = tb.get("_fivetran_start")
		}
		e, reason := x.stageEntry(&fd.d, tb.get("value"), ts, tsCol, p.row("deal", id))
		if reason != "" {
			if _, seen := hist[id]; !seen {
				hist[id] = nil
			}
			return reject(reason)
		}
		hist[id] = append(hist[id], e)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range x.ftDealOrder {
		fd := x.ftDeals[id]
		entries, had := hist[id]
		if !had {
			err = x.currentStage(ctx, r, &fd.d, fd.loc, fd.rejLoc, fd.raw)
		} else {
			err = x.dealStages(ctx, r, &fd.d, entries)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
