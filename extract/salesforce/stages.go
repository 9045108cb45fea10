package salesforce

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableDealStages.
var (
	sInput     = extract.Col(extract.TableDealStages, "input")
	sLocation  = extract.Col(extract.TableDealStages, "location")
	sCRM       = extract.Col(extract.TableDealStages, "crm")
	sDealID    = extract.Col(extract.TableDealStages, "deal_id")
	sStage     = extract.Col(extract.TableDealStages, "stage")
	sEnteredAt = extract.Col(extract.TableDealStages, "entered_at")
)

// stageEntry is one row of an opportunity's stage history. The row itself is not
// kept (a history holds many rows per deal): line and hid locate it again.
type stageEntry struct {
	stage string
	at    time.Time
	line  int    // line in the history file; 0 in API mode
	hid   string // the row's Id as written
}

// readStageHistory reads OpportunityHistory (or a Fivetran history-mode opportunity
// table) into r.stages, each opportunity's rows in time order (rows of one time in
// reading order).
func (r *run) readStageHistory(ctx context.Context) error {
	obj := r.o.opportunityHistory
	labels := map[string]string{} // one copy of each stage label, not one per row
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if rec.gone {
			return nil
		}
		oppField, atField := ohOpportunityID, ohCreatedDate
		if s.has[ohFivetranStart] {
			oppField, atField = ohID, ohFivetranStart
		} else if f.bool(ohIsDeleted) {
			return nil
		}
		opp, at, stage := f.id(oppField), f.time(atField), f.str(ohStageName)
		f.plausible(atField, at, r.e.cfg.Now)
		switch {
		case f.bad != "":
		case opp == "":
			f.fail(oppField, "empty: a stage history row must name its opportunity")
		case at.IsZero():
			f.fail(atField, "empty: a stage history row without its time cannot be placed in the opportunity's path; fix the export")
		case stage == "":
			f.fail(ohStageName, "empty: a stage history row must name the stage the opportunity entered")
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(ohID)), f.bad, rec)
		}
		label, ok := labels[stage]
		if !ok {
			label = strings.Clone(stage)
			labels[label] = label
		}
		r.historyFile, r.historyRow = rec.file, rec.row
		r.stages[opp] = append(r.stages[opp], stageEntry{stage: label, at: at, line: rec.line, hid: strings.Clone(f.str(ohID))})
		return nil
	})
	for _, h := range r.stages {
		slices.SortStableFunc(h, func(a, b stageEntry) int { return a.at.Compare(b.at) })
	}
	return err
}

// writeStages writes the crm_deal_stages rows of opportunity id, whose crm_deals row
// has just been written from rec: one per history row whose stage differs from the
// row before it (the others record edits of amount or close date), or, without
// history, one at CreatedDate in the current stage. An opportunity listed twice gets
// its rows once.
func (r *run) writeStages(ctx context.Context, b *extract.Builder, rec *record, id, stage string, created time.Time) error {
	if r.wroteOpps[id] {
		return nil
	}
	r.wroteOpps[id] = true
	h := r.stages[id]
	if len(h) == 0 {
		obj := r.o.opportunity
		if stage == "" || created.IsZero() {
			return r.reject(ctx, rejectLocation(obj, rec, id),
				"no stage history and no StageName or CreatedDate: the opportunity's stage entry cannot be dated; fix the record or export OpportunityHistory", rec)
		}
		if reason := extract.BadTime("field CreatedDate (when it entered its stage, as it has no stage history)", created, r.e.cfg.Now); reason != "" {
			return r.reject(ctx, rejectLocation(obj, rec, id), reason, rec)
		}
		return r.stageRow(ctx, b, location(obj, rec, id), id, stage, created)
	}
	for i, e := range h {
		if i > 0 && strings.EqualFold(e.stage, h[i-1].stage) {
			continue
		}
		if err := r.stageRow(ctx, b, r.historyLocation(e, false), id, e.stage, e.at); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) stageRow(ctx context.Context, b *extract.Builder, loc, id, stage string, at time.Time) error {
	b.Str(sInput, r.spec)
	b.Str(sLocation, loc)
	b.Str(sCRM, crm)
	b.Str(sDealID, id)
	b.Str(sStage, stage)
	b.Time(sEnteredAt, at)
	return b.End(ctx)
}

// historyLocation names a history row: file:line or the API object (location), or
// as rejections do.
func (r *run) historyLocation(e stageEntry, reject bool) string {
	rec := &record{file: r.historyFile, line: e.line, row: r.historyRow}
	if reject {
		return rejectLocation(r.o.opportunityHistory, rec, e.hid)
	}
	return location(r.o.opportunityHistory, rec, e.hid)
}

// unmatchedStages handles the history of opportunities no crm_deals row was written
// for, once Opportunity is read (found: the source has it). Deleted opportunities
// have no stage rows. With Config.Since the others are opportunities unchanged since
// then: left out and logged. Else every row is rejected: its opportunity was rejected,
// or is in neither the Opportunity export nor the org.
func (r *run) unmatchedStages(ctx context.Context, found bool) error {
	var ids []string
	for id := range r.stages {
		if !r.wroteOpps[id] && !r.deletedOpps[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	incremental := !r.e.cfg.Since.IsZero()
	left, rows := 0, 0
	for _, id := range ids {
		var reason string
		switch {
		case r.rejectedOpps[id]:
			reason = "opportunity " + id + " was rejected (see its own rejection): its stage history is left out with it"
		case incremental:
			left++
			rows += len(r.stages[id])
			continue
		case !found:
			reason = "no Opportunity was read (the source has none): a stage history row cannot be tied to a deal; export Opportunity with OpportunityHistory"
		default:
			reason = "opportunity " + id + " is neither a live nor a deleted opportunity of the Opportunity export: export Opportunity and OpportunityHistory at the same time"
		}
		for _, e := range r.stages[id] {
			raw := fmt.Sprintf("Id=%s;OpportunityId=%s;StageName=%s;CreatedDate=%s", e.hid, id, e.stage, e.at.Format(time.RFC3339Nano))
			err := r.w.Reject(ctx, extract.Rejection{Input: r.spec, Location: r.historyLocation(e, true), Reason: reason, Raw: extract.Cut(raw)})
			if err != nil {
				return err
			}
		}
	}
	if left > 0 {
		r.e.log.Info("salesforce: stage history of opportunities unchanged since Since not written", "opportunities", left, "rows", rows)
	}
	return nil
}
