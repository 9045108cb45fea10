package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"closedloop/load"
	"closedloop/load/bigquery"
	"closedloop/load/duckdb"
	"closedloop/load/postgres"
	"closedloop/load/redact"
	"closedloop/transform"
)

// allDays is the From of a --full-refresh run without one: every day the sources
// hold is written, and the loader is given the days from the first row written.
var allDays = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// Run modes (run_log.row_counts.state.mode).
const (
	modeFull        = "full"         // every day the sources hold is read; the range is written
	modeFullRefresh = "full_refresh" // --full-refresh
	modeIncremental = "incremental"  // the days from FROM on are read, the rest is the warehouse's
)

// runState is what a run records of itself in run_log.row_counts.state, for the next
// run to decide whether it may resume from the warehouse.
type runState struct {
	Mode string `json:"mode"`
	// Complete says the warehouse holds every touchpoint and event conversion of
	// every day the sources held (a full run whose range began before the first
	// event, or an incremental run after one): only then may a run resume.
	Complete bool `json:"complete"`
	// Since is where an incremental run's own events began (YYYY-MM-DD).
	Since string `json:"since,omitempty"`
	// AttributionFrom is the first day of fct_attribution the run wrote again before
	// its range: identity merges reached older conversions.
	AttributionFrom string `json:"attribution_from,omitempty"`
	// Settings is a digest of the sources and settings the stored rows depend on: a
	// run with other ones reads everything again.
	Settings string `json:"settings"`
}

// plan is how a run reads its sources: incremental from Since with the warehouse's
// state, or everything.
type plan struct {
	mode  string
	since time.Time        // incremental: the run's first day
	state load.StateReader // incremental: the warehouse's state, until read
	// settings is the run's settingsDigest, which its run_log records.
	settings string
}

// settingsDigest digests what the stored touchpoints, conversions and identities
// depend on besides the sources' rows: the analytics sources, the session, channel,
// touch, conversion and identity settings (with the rules file's content).
func settingsDigest(cfg Config) string {
	rules := ""
	if cfg.ChannelRules != "" {
		b, _ := os.ReadFile(cfg.ChannelRules)
		rules = string(b)
	}
	v := []any{cfg.Analytics, cfg.SessionTimeout.String(), cfg.SessionSplitOnCampaign, cfg.TouchEvents, cfg.MicroConversions,
		cfg.AttributeSalesTouches, cfg.IdentityLimits, cfg.IdentityBlocklist, cfg.HashPii, rules, cfg.Currency}
	if cfg.parsed != nil {
		// fct_attribution's days hold the rows of the scopes they were written with;
		// accounts from e-mail change its account journeys and fct_conversion.
		v = append(v, "scopes", cfg.parsed.scopes, cfg.AccountFromEmail, cfg.FreeMailDomains)
	}
	if cfg.Engine != "local" && cfg.Engine != "" {
		// The engines derive touchpoint and session ids differently: a warehouse one
		// wrote is no state for the other (only then, so the local engine's digests stay).
		v = append(v, "engine="+cfg.Engine)
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// planRun decides the run's mode: incremental when the warehouse holds a complete
// state written with the same sources and settings, and the run is not a full
// refresh; else everything is read (as a first run does).
func planRun(ctx context.Context, cfg Config, log *slog.Logger) (plan, error) {
	settings := settingsDigest(cfg)
	p, err := planMode(ctx, cfg, settings, log)
	p.settings = settings
	return p, err
}

// planMode is planRun's decision, given the run's settings digest.
func planMode(ctx context.Context, cfg Config, settings string, log *slog.Logger) (plan, error) {
	if cfg.FullRefresh {
		return plan{mode: modeFullRefresh}, nil
	}
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	var st load.StateReader
	switch kind {
	case "duckdb":
		s, err := duckdb.OpenState(loc) // as openWarehouse opens it (baseDir is the sources')
		if err != nil || s == nil {
			return plan{mode: modeFull}, err
		}
		st = s
	case "postgres":
		s, err := postgres.OpenState(loc)
		if err != nil || s == nil {
			return plan{mode: modeFull}, err
		}
		st = s
	case "bigquery":
		if cfg.Engine != "bigquery" {
			return plan{mode: modeFull}, nil // the local engine reads a BigQuery warehouse's state not yet
		}
		project, dataset, err := bigqueryTarget(loc)
		if err != nil {
			return plan{}, fmt.Errorf("%w: CLOSEDLOOP_WAREHOUSE: %v", errUsage, err)
		}
		s, err := bigquery.OpenState(ctx, project, dataset, cfg.BigqueryLocation, bigqueryOptions(cfg)...)
		if err != nil || s == nil {
			return plan{mode: modeFull}, err
		}
		st = s
	default:
		return plan{mode: modeFull}, nil // Parquet does not read its state back yet
	}
	counts, err := st.LastRun(ctx)
	var last struct {
		State runState `json:"state"`
	}
	if err == nil && counts != "" {
		err = json.Unmarshal([]byte(counts), &last)
	}
	switch {
	case err != nil:
		st.Close()
		return plan{}, fmt.Errorf("read the last run of %s: %w", redact.Spec(cfg.Warehouse), err)
	case !last.State.Complete:
		st.Close()
		if last.State.Mode != "" {
			log.Info("the warehouse does not hold every day of the sources: every day is read (run once with --full-refresh to resume from the warehouse afterwards)")
		}
		return plan{mode: modeFull}, nil
	case last.State.Settings != settings:
		st.Close()
		log.Warn("sources or settings changed since the warehouse was written: every day is read; run --full-refresh to rewrite the older days with them")
		return plan{mode: modeFull}, nil
	}
	return plan{mode: modeIncremental, since: cfg.From.Time, state: st}, nil
}

// readFrom is the first day of raw events an incremental run reads: a day before its
// own (sessions crossing midnight), and a day more for exports whose days are the
// property's time zone's.
func (p plan) readFrom() time.Time {
	if p.mode != modeIncremental {
		return time.Time{}
	}
	return p.since.AddDate(0, 0, -2)
}

// readState passes the warehouse's state to the stream.
func (p plan) readState(ctx context.Context, s *transform.Stream) error {
	if p.state == nil {
		return nil
	}
	return p.state.ReadState(ctx, p.since, transform.Milestones, s)
}

// close releases the state reader.
func (p plan) close() {
	if p.state != nil {
		p.state.Close()
	}
}
