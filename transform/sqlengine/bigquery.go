package sqlengine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

// OnDemandUSDPerTiB is BigQuery's on-demand price per TiB scanned (US multi-region,
// 2025), for the cost the logs and --dry-run print beside the bytes.
const OnDemandUSDPerTiB = 6.25

// Estimate is what BigQuery's dry run of one statement says it will scan.
type Estimate struct {
	Step  string
	Bytes int64
	SQL   string
}

// USD is the on-demand cost of scanning bytes.
func USD(bytes int64) float64 { return float64(bytes) / (1 << 40) * OnDemandUSDPerTiB }

// BigQueryExecutor runs the steps as BigQuery jobs. Every statement and query is
// dry-run first: its bytes are logged and kept (Estimates), and one that would scan
// more than MaxBytes fails before it runs. The job then runs with maximumBytesBilled
// set to MaxBytes, under a deterministic id; a job that fails for a reason BigQuery
// calls transient (backendError, internalError, rateLimitExceeded, ...) runs again
// under a new id, up to Attempts times.
type BigQueryExecutor struct {
	Client   *bigquery.Client
	Project  string // the project of the work tables (Config.Staging's)
	Dataset  string // the dataset of the work tables
	Location string
	// MaxBytes is CLOSEDLOOP_BIGQUERY_MAX_BYTES: the most one job may bill (0: no
	// limit).
	MaxBytes int64
	// RunID makes the job ids: closedloop_<run>_<step>_<attempt>.
	RunID string
	// DryRun runs nothing: each statement is only dry-run (closedloop run --dry-run).
	DryRun   bool
	Attempts int // 0 means 3
	// Backoff is the wait before a job's next attempt (doubled each time); 0 means 5s.
	Backoff time.Duration
	Labels  map[string]string
	Log     *slog.Logger

	Estimates []Estimate
	Jobs      int // jobs run (dry runs aside)
}

// transientReasons are the job error reasons BigQuery documents as retryable
// (cloud.google.com/bigquery/docs/error-messages).
var transientReasons = []string{"backendError", "internalError", "rateLimitExceeded", "jobRateLimitExceeded",
	"jobBackendError", "jobInternalError"}

func (b *BigQueryExecutor) log() *slog.Logger {
	if b.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Log
}

// estimate dry-runs sql and records its bytes.
func (b *BigQueryExecutor) estimate(ctx context.Context, step, sql string) error {
	q := b.Client.Query(sql)
	q.DryRun = true
	q.Location = b.Location
	job, err := q.Run(ctx)
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	var n int64
	if st := job.LastStatus(); st != nil && st.Statistics != nil {
		n = st.Statistics.TotalBytesProcessed
	}
	b.Estimates = append(b.Estimates, Estimate{Step: step, Bytes: n, SQL: sql})
	b.log().Info("bigquery dry run", "step", step, "bytes", n, "gib", math.Round(float64(n)/(1<<30)*1000)/1000,
		"usd_on_demand", math.Round(USD(n)*10000)/10000)
	if b.MaxBytes > 0 && n > b.MaxBytes {
		return fmt.Errorf("would scan %d bytes, more than CLOSEDLOOP_BIGQUERY_MAX_BYTES (%d): narrow the range or raise the limit", n, b.MaxBytes)
	}
	return nil
}

// run dry-runs then runs sql as a query job, retrying transient failures.
func (b *BigQueryExecutor) run(ctx context.Context, step, sql string) (*bigquery.Job, error) {
	if err := b.estimate(ctx, step, sql); err != nil {
		return nil, err
	}
	if b.DryRun {
		return nil, nil
	}
	attempts := b.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	pause := b.Backoff
	if pause <= 0 {
		pause = 5 * time.Second
	}
	var last error
	for a := 1; a <= attempts; a++ {
		q := b.Client.Query(sql)
		q.Location = b.Location
		q.MaxBytesBilled = b.MaxBytes
		q.Labels = b.Labels
		q.JobIDConfig = bigquery.JobIDConfig{JobID: b.jobID(step, a), Location: b.Location}
		job, err := q.Run(ctx)
		if err == nil {
			b.Jobs++
			if err = wait(ctx, job); err == nil {
				return job, nil
			}
		}
		last = err
		if !transient(err) || a == attempts {
			break
		}
		b.log().Warn("bigquery job failed, running it again", "step", step, "attempt", a, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause *= 2
	}
	return nil, last
}

// wait polls job's status (jobs.get) until it is done and returns its error. Job.Wait
// would poll jobs.getQueryResults, which Google's client retries for as long as the
// context lasts when the job itself failed with a reason it deems transient
// (backendError): the attempt loop of run, with a new job id, is the retry here.
func wait(ctx context.Context, job *bigquery.Job) error {
	pause := 50 * time.Millisecond
	for {
		st, err := job.Status(ctx)
		if err != nil {
			return err
		}
		if st.Done() {
			return st.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// jobID is the deterministic id of a step's attempt.
func (b *BigQueryExecutor) jobID(step string, attempt int) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, step)
	return fmt.Sprintf("closedloop_%s_%s_%d", b.RunID, clean, attempt)
}

// transient tells a job failure BigQuery may not repeat.
func transient(err error) bool {
	var be *bigquery.Error
	if errors.As(err, &be) {
		return slices.Contains(transientReasons, be.Reason)
	}
	return false
}

// Exec dry-runs and runs one statement.
func (b *BigQueryExecutor) Exec(ctx context.Context, st Statement) error {
	_, err := b.run(ctx, st.Step, st.SQL)
	return err
}

// Query dry-runs and runs a query and reads its rows into dest. Under DryRun it
// returns no rows.
func (b *BigQueryExecutor) Query(ctx context.Context, step, sql string, dest []any, row func() error) error {
	job, err := b.run(ctx, step, sql)
	if err != nil || job == nil {
		return err
	}
	it, err := job.Read(ctx)
	if err != nil {
		return err
	}
	for {
		var vals []bigquery.Value
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(vals) != len(dest) {
			return fmt.Errorf("%d columns, want %d", len(vals), len(dest))
		}
		for i, v := range vals {
			if err := assign(dest[i], v); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if err := row(); err != nil {
			return err
		}
	}
}

// assign stores BigQuery value v into dest (NULL: zero, NaN for a float).
func assign(dest any, v bigquery.Value) error {
	switch d := dest.(type) {
	case *string:
		s, _ := v.(string)
		*d = s
	case *int64:
		n, _ := v.(int64)
		*d = n
	case *float64:
		switch x := v.(type) {
		case float64:
			*d = x
		case int64:
			*d = float64(x)
		default:
			*d = math.NaN()
		}
	default:
		return fmt.Errorf("cannot scan into %T", dest)
	}
	return nil
}

// Put replaces work table name with rows by a load job of newline-delimited JSON,
// streamed to the upload as the rows come.
func (b *BigQueryExecutor) Put(ctx context.Context, name string, cols []Column, rows iter.Seq[[]any]) error {
	schema := make(bigquery.Schema, len(cols))
	for i, c := range cols {
		t := bigquery.StringFieldType
		switch c.Kind {
		case Int:
			t = bigquery.IntegerFieldType
		case Float:
			t = bigquery.FloatFieldType
		}
		schema[i] = &bigquery.FieldSchema{Name: c.Name, Type: t}
	}
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		enc := json.NewEncoder(w)
		obj := make(map[string]any, len(cols))
		var err error
		for r := range rows {
			for i, c := range cols {
				v := r[i]
				if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
					v = nil
				}
				obj[c.Name] = v
			}
			if err = enc.Encode(obj); err != nil {
				break
			}
		}
		pw.CloseWithError(errors.Join(err, w.Flush()))
	}()
	defer pr.Close()
	if b.DryRun {
		_, err := io.Copy(io.Discard, pr)
		return err
	}
	src := bigquery.NewReaderSource(pr)
	src.SourceFormat = bigquery.JSON
	src.Schema = schema
	ld := b.Client.DatasetInProject(b.Project, b.Dataset).Table(name).LoaderFrom(src)
	ld.WriteDisposition = bigquery.WriteTruncate
	ld.CreateDisposition = bigquery.CreateIfNeeded
	ld.Labels = b.Labels
	ld.JobIDConfig = bigquery.JobIDConfig{JobID: b.jobID("put_"+name, 1), AddJobIDSuffix: true, Location: b.Location}
	job, err := ld.Run(ctx)
	if err != nil {
		return err
	}
	b.Jobs++
	b.log().Debug("bigquery put", "table", name, "job", job.ID())
	return wait(ctx, job)
}
