package bigquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"closedloop/extract/httpretry"
	"closedloop/load"
)

const (
	// maxRangeDays bounds a run's range: a ReplaceRange table gets one load job per day,
	// and BigQuery allows 1,500 load jobs per table per day, failed ones included. 1,000
	// leaves room for a second run of the same table on the same day.
	maxRangeDays = 1000
	// maxClusterColumns is BigQuery's limit on clustering columns.
	maxClusterColumns = 4
	// appLabel is the label every dataset, table and job of closedloop carries, so that
	// billing exports can tell its cost apart.
	appLabel, appLabelValue = "app", "closedloop"
	// runLabel carries the run id on every job.
	runLabel = "closedloop_run"
)

// Config configures a Loader.
type Config struct {
	Project string // Google Cloud project of the dataset; jobs run and are billed there
	Dataset string // dataset of the warehouse tables, created if missing
	// Location of the dataset (US, EU, europe-west1, ...): a new dataset is created there,
	// an existing one must be there. Empty: the existing dataset's location, or
	// BigQuery's default (US) for a new one.
	Location string
	Range    load.Range // days whose rows ReplaceRange tables replace
	// RunID identifies the run in job ids (see the package doc): unique per run, reused
	// only to retry that same run. Required.
	RunID string
	// Labels go on the dataset (when created), the tables (when created) and every job,
	// beside app=closedloop, for cost tracking. Keys and values: lower-case letters,
	// digits, - and _, at most 63 characters.
	Labels        map[string]string
	Logger        *slog.Logger
	ClientOptions []option.ClientOption // passed to bigquery.NewClient (tests: endpoint, no auth, HTTP client)
	Allocator     memory.Allocator      // for the Parquet staging; nil: memory.DefaultAllocator
	// Retry is how the uploads of the load jobs are retried (package httpretry), the one
	// request Google's client does not retry itself; zero fields mean its defaults. An
	// attempt may take RequestTimeout plus a second per MiB of the file; SourceTimeout
	// bounds the attempts of one upload together (within the job's 30 minutes). Rate
	// and Burst do not apply: maxConcurrentJobs bounds the uploads.
	Retry httpretry.Policy
}

// Loader writes one run into a BigQuery dataset. Its methods are called by one goroutine
// at a time, in the order load.Loader documents.
type Loader struct {
	cfg      Config
	log      *slog.Logger
	mem      memory.Allocator
	client   *bigquery.Client
	ds       *bigquery.Dataset
	location string            // of the dataset; every job runs there
	labels   map[string]string // dataset and tables
	jobLabel map[string]string // jobs: labels plus the run
	run      string            // RunID as job ids may spell it
	days     []time.Time       // the range, one UTC midnight per day

	dir     string             // staging directory of the Parquet files
	staged  map[string]*staged // by table name
	aliases string             // staged person aliases (Parquet), "" when none
	appends []appendQuery      // AppendQuery's, in order
	views   []viewDDL          // recorded by ApplyViews, run by Commit
	// additions are the columns Open found missing at the end of Append and
	// ReplaceRange tables, added by Commit before any load (addColumns).
	additions []addition
	// fills are the columns Open found NULLABLE that the contract makes NOT NULL with a
	// value for existing rows (load.ExistingRows): Commit sets it where they are NULL.
	fills []fill

	remapped  int64
	committed bool
	closed    bool
}

var _ load.Loader = (*Loader)(nil)

var (
	datasetRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	jobIDRE   = regexp.MustCompile(`[^A-Za-z0-9_-]`)
	labelRE   = regexp.MustCompile(`[^a-z0-9_-]`)
)

// Open connects to BigQuery, makes sure the dataset and every contract table exist with
// the contract's columns, and prepares the staging directory.
func Open(ctx context.Context, cfg Config) (_ *Loader, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Loader{cfg: cfg, log: cfg.Logger.With("warehouse", "bigquery:"+cfg.Project+"."+cfg.Dataset),
		mem: cfg.Allocator, staged: map[string]*staged{}}
	if l.mem == nil {
		l.mem = memory.DefaultAllocator
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	// The client may keep its context for credential refreshes: it must outlive Open's.
	l.client, err = bigquery.NewClient(context.WithoutCancel(ctx), cfg.Project, cfg.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: connect to project %s: %w", cfg.Project, err)
	}
	l.ds = l.client.Dataset(cfg.Dataset)
	if err := l.ensureDataset(ctx); err != nil {
		return nil, err
	}
	l.client.Location = l.location
	for _, t := range load.Tables {
		if err := l.ensureTable(ctx, t); err != nil {
			return nil, err
		}
	}
	l.dir, err = os.MkdirTemp("", "closedloop-bigquery-")
	if err != nil {
		return nil, fmt.Errorf("bigquery: staging directory: %w", err)
	}
	return l, nil
}

// validate checks the Config and derives the run's names, labels and days.
func (l *Loader) validate() error {
	c := l.cfg
	switch {
	case c.Project == "" || strings.ContainsAny(c.Project, "`\\ "):
		return fmt.Errorf("bigquery: project %q: give the Google Cloud project id (bigquery:PROJECT.DATASET)", c.Project)
	case !datasetRE.MatchString(c.Dataset):
		return fmt.Errorf("bigquery: dataset %q: use letters, digits and underscores (bigquery:PROJECT.DATASET)", c.Dataset)
	case c.RunID == "":
		return errors.New("bigquery: no run id: job ids are derived from it")
	case c.Range.From.IsZero() || c.Range.To.IsZero() || c.Range.To.Before(c.Range.From):
		return fmt.Errorf("bigquery: bad range %s..%s", c.Range.From.Format(time.DateOnly), c.Range.To.Format(time.DateOnly))
	}
	from, to := utcDay(c.Range.From), utcDay(c.Range.To)
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		l.days = append(l.days, d)
		if len(l.days) > maxRangeDays {
			return fmt.Errorf("bigquery: range %s..%s has more than %d days: each day is a load job per fact table, and BigQuery allows 1,500 per table per day; load it in several runs on different days",
				from.Format(time.DateOnly), to.Format(time.DateOnly), maxRangeDays)
		}
	}
	l.run = jobIDRE.ReplaceAllString(c.RunID, "_")
	l.labels = map[string]string{appLabel: appLabelValue}
	maps.Copy(l.labels, c.Labels)
	l.jobLabel = maps.Clone(l.labels)
	run := labelRE.ReplaceAllString(strings.ToLower(c.RunID), "_")
	l.jobLabel[runLabel] = run[:min(len(run), 63)]
	return nil
}

// utcDay is the UTC midnight of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ensureDataset creates the dataset if it is missing, or checks its location.
func (l *Loader) ensureDataset(ctx context.Context) error {
	name := l.cfg.Project + "." + l.cfg.Dataset
	md, err := l.ds.Metadata(ctx)
	if isStatus(err, http.StatusNotFound) {
		err = l.ds.Create(ctx, &bigquery.DatasetMetadata{
			Location:    l.cfg.Location,
			Labels:      l.labels,
			Description: "closedloop warehouse: marketing touches, conversions, attribution and spend (load/bigquery).",
		})
		if err == nil {
			l.log.Info("dataset created", "dataset", name, "location", l.cfg.Location)
			l.location = l.cfg.Location
			return nil
		}
		if !isStatus(err, http.StatusConflict) { // else created meanwhile by someone else
			return fmt.Errorf("bigquery: create dataset %s: %w", name, err)
		}
		md, err = l.ds.Metadata(ctx)
	}
	if err != nil {
		return fmt.Errorf("bigquery: dataset %s: %w", name, err)
	}
	if l.cfg.Location != "" && !strings.EqualFold(md.Location, l.cfg.Location) {
		return fmt.Errorf("bigquery: dataset %s is in %s, not %s: fix the location or use another dataset", name, md.Location, l.cfg.Location)
	}
	l.location = md.Location
	return nil
}

// ensureTable creates contract table t if it is missing, or checks the existing one.
func (l *Loader) ensureTable(ctx context.Context, t load.Table) error {
	ref := l.tableRef(t.Name)
	schema, err := TableSchema(t.Schema)
	if err != nil {
		return fmt.Errorf("bigquery: table %s: %w", ref, err)
	}
	tb := l.ds.Table(t.Name)
	md, err := tb.Metadata(ctx)
	if isStatus(err, http.StatusNotFound) {
		want := &bigquery.TableMetadata{
			Description: t.Description,
			Schema:      schema,
			Labels:      l.labels,
		}
		if t.Mode == load.ReplaceRange {
			want.TimePartitioning = &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: t.DateColumn}
		}
		if len(t.ClusterBy) > 0 {
			want.Clustering = &bigquery.Clustering{Fields: t.ClusterBy[:min(len(t.ClusterBy), maxClusterColumns)]}
		}
		err = tb.Create(ctx, want)
		if err == nil {
			l.log.Info("table created", "table", ref)
			return nil
		}
		if !isStatus(err, http.StatusConflict) {
			return fmt.Errorf("bigquery: create table %s: %w", ref, err)
		}
		md, err = tb.Metadata(ctx)
	}
	if err != nil {
		return fmt.Errorf("bigquery: table %s: %w", ref, err)
	}
	if md.Type != "" && md.Type != bigquery.RegularTable {
		return fmt.Errorf("bigquery: %s is a %s, not a table: drop it and run again", ref, md.Type)
	}
	// BigQuery adds no REQUIRED column to a table: a NOT NULL column of the contract
	// that has a value for existing rows is added NULLABLE, and stays so (relaxed).
	relaxed := relax(t, schema)
	if n := len(md.Schema); n < len(schema) && load.AddableColumns(t, n) != nil && columns(md.Schema) == columns(relaxed[:n]) {
		// An Append or ReplaceRange table of an older version: Commit adds the columns,
		// so that a run closed without Commit changes nothing.
		a := addition{table: t.Name, etag: md.ETag, schema: append(slices.Clone(md.Schema), relaxed[n:]...)}
		for _, f := range relaxed[n:] {
			a.added = append(a.added, f.Name)
		}
		l.additions = append(l.additions, a)
	} else if have, want := columns(md.Schema), columns(schema); have != want && have != columns(relaxed) {
		return fmt.Errorf("bigquery: table %s has columns (%s), this version writes (%s): drop the table (or copy it aside), then re-run the date ranges you need",
			ref, have, want)
	}
	for i, f := range t.Schema.Fields() {
		if v, ok := load.ExistingRows(f); ok && !f.Nullable && (i >= len(md.Schema) || !md.Schema[i].Required) {
			l.fills = append(l.fills, fill{table: t.Name, column: f.Name, value: v})
		}
	}
	if t.Mode == load.ReplaceRange {
		p := md.TimePartitioning
		if p == nil || p.Field != t.DateColumn || (p.Type != "" && p.Type != bigquery.DayPartitioningType) {
			return fmt.Errorf("bigquery: table %s is not partitioned by DAY on %s (%s): its days are replaced through partitions; drop the table (or copy it aside), then re-run the date ranges you need",
				ref, t.DateColumn, partitioning(p))
		}
	}
	if have, want := clustering(md.Clustering), strings.Join(t.ClusterBy[:min(len(t.ClusterBy), maxClusterColumns)], ", "); have != want {
		l.log.Warn("table clustered differently from the contract; queries still work", "table", ref, "has", have, "contract", want)
	}
	return nil
}

// relax is schema, the BigQuery schema of t, with the NOT NULL columns that have a
// value for existing rows (load.ExistingRows) NULLABLE: how they are when a loader added
// them to a table of an older version.
func relax(t load.Table, schema bigquery.Schema) bigquery.Schema {
	out := slices.Clone(schema)
	for i, f := range t.Schema.Fields() {
		if _, ok := load.ExistingRows(f); ok && out[i].Required {
			c := *out[i]
			c.Required = false
			out[i] = &c
		}
	}
	return out
}

// fill is a column added NULLABLE to a table of an older version whose older rows get
// the contract's value for existing rows (load.ExistingRows) by an UPDATE.
type fill struct {
	table, column, value string
}

// fillSQL is the UPDATE that gives the rows of a fill their value. On every run while
// the column is NULLABLE: it changes rows only on the run that added the column (or the
// next, when that one died before it), and scans only that column.
func (l *Loader) fillSQL(f fill) string {
	col := "`" + f.column + "`"
	return fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s IS NULL", l.quoted(f.table), col, stringLiteral(f.value), col)
}

// stringLiteral is s as a GoogleSQL string literal.
func stringLiteral(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// addition is an Append or ReplaceRange table that lacks columns at the end of its
// schema.
type addition struct {
	table  string
	etag   string          // of the metadata Open read: the patch fails if it changed since
	schema bigquery.Schema // the table's columns, then the ones to add
	added  []string        // names of the columns to add
}

// addColumns adds the columns of l.additions with a table patch each (tables.patch: a
// schema update that only adds NULLABLE columns, which BigQuery allows on a table with
// rows; the old rows read NULL), then runs the UPDATEs of l.fills, which give the old
// rows of a NOT NULL column with a value for existing rows that value (the column stays
// NULLABLE in BigQuery: REQUIRED cannot be added to a table, nor a column made
// REQUIRED; every run writes its values). The patch carries the ETag Open read, so a table
// changed meanwhile is not overwritten; a patch whose answer was lost and that the
// client retried finds the columns there and is done.
func (l *Loader) addColumns(ctx context.Context) error {
	for len(l.additions) > 0 {
		a := l.additions[0]
		ref := l.tableRef(a.table)
		tb := l.ds.Table(a.table)
		_, err := tb.Update(ctx, bigquery.TableMetadataToUpdate{Schema: a.schema}, a.etag)
		if isStatus(err, http.StatusPreconditionFailed) {
			if md, merr := tb.Metadata(ctx); merr == nil && columns(md.Schema) == columns(a.schema) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("bigquery: add the new columns to %s (the table changed since Open if this is a failed precondition; run again): %w", ref, err)
		}
		for _, c := range a.added {
			l.log.Info("column added", "table", ref, "column", c)
		}
		l.additions = l.additions[1:]
	}
	// The fills' UPDATEs, after the patches that added their columns; a retried run
	// reuses the jobs (deterministic ids).
	var fills []job
	for _, f := range l.fills {
		fills = append(fills, job{id: l.jobID("fill_"+f.table+"_"+f.column, time.Time{}), kind: "fill", target: l.tableRef(f.table),
			insert: l.query(l.fillSQL(f))})
	}
	statuses, err := l.runJobs(ctx, fills)
	if err != nil {
		return err
	}
	for i, st := range statuses {
		var n int64
		if st != nil && st.Statistics != nil {
			if qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics); ok {
				n = qs.NumDMLAffectedRows
			}
		}
		if n > 0 {
			l.log.Info("older rows given the contract's value of an added column", "table", l.tableRef(l.fills[i].table),
				"column", l.fills[i].column, "value", l.fills[i].value, "rows", n)
		}
	}
	l.fills = nil
	return nil
}

func partitioning(p *bigquery.TimePartitioning) string {
	if p == nil {
		return "not partitioned"
	}
	field := p.Field
	if field == "" {
		field = "_PARTITIONTIME"
	}
	return fmt.Sprintf("partitioned by %s on %s", p.Type, field)
}

func clustering(c *bigquery.Clustering) string {
	if c == nil {
		return ""
	}
	return strings.Join(c.Fields, ", ")
}

// TableSchema is the BigQuery schema of a contract table: one column per field, with its
// description, REQUIRED where the field is not nullable. Types: string → STRING,
// float64 → FLOAT64, int64 → INT64, bool → BOOL, timestamp (UTC) → TIMESTAMP,
// date32 → DATE.
func TableSchema(s *arrow.Schema) (bigquery.Schema, error) {
	var out bigquery.Schema
	for _, f := range s.Fields() {
		typ, err := fieldType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		out = append(out, &bigquery.FieldSchema{
			Name:        f.Name,
			Type:        typ,
			Required:    !f.Nullable,
			Description: load.Description(f),
		})
	}
	return out, nil
}

// fieldType is the BigQuery type of an Arrow type of the contract, in GoogleSQL's
// spelling (the API also accepts and answers INTEGER, FLOAT, BOOLEAN).
func fieldType(t arrow.DataType) (bigquery.FieldType, error) {
	switch t.ID() {
	case arrow.STRING:
		return bigquery.StringFieldType, nil
	case arrow.FLOAT64:
		return "FLOAT64", nil
	case arrow.INT64:
		return "INT64", nil
	case arrow.BOOL:
		return "BOOL", nil
	case arrow.TIMESTAMP:
		if ts := t.(*arrow.TimestampType); ts.TimeZone != "UTC" && ts.TimeZone != "" {
			return "", fmt.Errorf("timestamp in %s: BigQuery keeps UTC", ts.TimeZone)
		}
		return bigquery.TimestampFieldType, nil
	case arrow.DATE32:
		return bigquery.DateFieldType, nil
	}
	return "", fmt.Errorf("no BigQuery type for %s", t)
}

// legacyTypes maps the API's legacy type names to GoogleSQL's.
var legacyTypes = map[bigquery.FieldType]string{"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}

// columns spells a schema for comparison and error messages: "name TYPE MODE, ...".
func columns(s bigquery.Schema) string {
	var parts []string
	for _, f := range s {
		typ := string(f.Type)
		if t, ok := legacyTypes[f.Type]; ok {
			typ = t
		}
		mode := "NULLABLE"
		switch {
		case f.Repeated:
			mode = "REPEATED"
		case f.Required:
			mode = "REQUIRED"
		}
		parts = append(parts, f.Name+" "+typ+" "+mode)
	}
	return strings.Join(parts, ", ")
}

// tableRef names a table as errors and logs show it: project.dataset.table.
func (l *Loader) tableRef(table string) string {
	return l.cfg.Project + "." + l.cfg.Dataset + "." + table
}

// quoted is a table as the loader's SQL names it: `project.dataset`.table, the form
// the views get from ViewSQL (BigQuery reads it as project.dataset.table).
func (l *Loader) quoted(table string) string {
	return "`" + l.cfg.Project + "." + l.cfg.Dataset + "`." + table
}

// isStatus reports whether err is an API error with HTTP status code.
func isStatus(err error, code int) bool {
	var e *googleapi.Error
	return errors.As(err, &e) && e.Code == code
}
