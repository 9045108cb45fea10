// Command engine measures the crossover of closedloop's two engines on `closedloop gen`
// data: the local engine (Go reads the GA4 export files and does every step) against
// the bigquery engine's SQL rendered for DuckDB (the per-event steps as SQL over the
// export in a table, Go on aggregates), each in its own process so that peak RSS is
// its own. bench/run --engine runs it; both modes print one JSON line.
//
//	engine -mode local -dir DATA            the local engine on DATA/ga4 and DATA/hubspot
//	engine -mode sql -dir DATA -db FILE     load DATA/ga4 into DuckDB FILE (timed apart:
//	                                        in BigQuery the export is already a table),
//	                                        then the SQL engine
//
// Neither writes a warehouse: what is timed is reading and transforming, the part
// the engines do differently. The SQL mode's RSS includes DuckDB's, which BigQuery
// would hold on its side; go_heap_peak is what Go holds there.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/transform"
	"closedloop/transform/attribution"
	"closedloop/transform/sqlengine"
)

type result struct {
	Mode         string  `json:"mode"`
	Events       int     `json:"events"`
	Touchpoints  int     `json:"touchpoints"`
	Credits      int64   `json:"credits,omitempty"`
	LoadSeconds  float64 `json:"load_seconds,omitempty"`
	Seconds      float64 `json:"seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	GoHeapPeakMB float64 `json:"go_heap_peak_mib"`
	// Steps are the SQL engine's seconds per step.
	Steps map[string]float64 `json:"steps,omitempty"`
}

func main() {
	mode := flag.String("mode", "local", "local or sql")
	dir := flag.String("dir", "", "a closedloop gen --out folder")
	dbPath := flag.String("db", "", "sql: the DuckDB file the export is loaded into")
	from := flag.String("from", "", "first day of the range (YYYY-MM-DD); default: the first export day")
	to := flag.String("to", "", "last day of the range; default: the last export day")
	flag.Parse()
	if err := run(*mode, *dir, *dbPath, *from, *to); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

// days is the range of the export files' days.
func days(dir, from, to string) (extract.Range, error) {
	files, err := filepath.Glob(filepath.Join(dir, "ga4", "events_*.ndjson.gz"))
	if err != nil || len(files) == 0 {
		return extract.Range{}, fmt.Errorf("no GA4 export files under %s/ga4", dir)
	}
	day := func(f string) string {
		b := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "events_"), ".ndjson.gz")
		return b[:4] + "-" + b[4:6] + "-" + b[6:]
	}
	if from == "" {
		from = day(files[0])
	}
	if to == "" {
		to = day(files[len(files)-1])
	}
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return extract.Range{}, err
	}
	t, err := time.Parse(time.DateOnly, to)
	return extract.Range{From: f, To: t}, err
}

func run(mode, dir, dbPath, from, to string) error {
	ctx := context.Background()
	rng, err := days(dir, from, to)
	if err != nil {
		return err
	}
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	if err != nil {
		return err
	}
	mem := memory.NewGoAllocator()
	opt := transform.Options{Mem: mem, Range: rng, Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute,
		TouchEvents: []string{"generate_lead", "file_download"}, Models: models, Currency: "USD"}
	crm := extract.NewCollector(mem)
	defer crm.Release()
	if err := hubspot.New(hubspot.Config{Dir: filepath.Join(dir, "hubspot"), Mem: mem, CookieProperty: "ga_client_id",
		Currency: "USD"}).Extract(ctx, crm); err != nil {
		return err
	}
	res := result{Mode: mode}
	t0 := time.Now()
	var s *transform.Stream
	var db *sql.DB
	switch mode {
	case "local":
		s = transform.NewStream(opt)
		if err := ga4.New(ga4.Config{Path: filepath.Join(dir, "ga4", "*.ndjson.gz"), Mem: mem}).Extract(ctx, &adder{s: s}); err != nil {
			return err
		}
	case "sql":
		if db, err = sql.Open("duckdb", dbPath); err != nil {
			return err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
			return err
		}
		var cols []string
		for _, c := range sqlengine.ExportColumns {
			cols = append(cols, fmt.Sprintf("%s: '%s'", c.Name, sqlengine.DuckDBType(c.BigQuery)))
		}
		if _, err := db.Exec(fmt.Sprintf(`CREATE OR REPLACE TABLE export AS SELECT *, event_date AS _table_suffix
			FROM read_json('%s', columns = {%s}, format = 'newline_delimited')`,
			filepath.Join(dir, "ga4", "*.ndjson.gz"), strings.Join(cols, ", "))); err != nil {
			return err
		}
		res.LoadSeconds = time.Since(t0).Seconds()
		t0 = time.Now()
		cfg := sqlengine.Config{Dialect: sqlengine.DuckDB, Export: "export", Range: rng, Read: rng, SessionTimeout: opt.SessionTimeout,
			TouchEvents: opt.TouchEvents, Lookback: opt.Lookback}
		eng := sqlengine.New(&sqlengine.DB{DB: db, Config: &cfg, Batches: 2000}, cfg, sqlengine.Options{Mem: mem, Input: "ga4:bigquery://bench"})
		opt.Pushdown = eng
		res.Steps = eng.Seconds
		s = transform.NewStream(opt)
		if err := eng.Start(ctx, s); err != nil {
			return err
		}
	default:
		return fmt.Errorf("mode %q: want local or sql", mode)
	}
	ev := crm.Table(extract.TableEvents)
	if err := s.Add(ctx, ev); err != nil {
		return err
	}
	ev.Release()
	in := transform.Inputs{Contacts: crm.Table(extract.TableContacts), Deals: crm.Table(extract.TableDeals),
		DealContacts: crm.Table(extract.TableDealContacts), Spend: crm.Table(extract.TableSpend)}
	out, err := s.Finish(ctx, in)
	for _, t := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend} {
		t.Release()
	}
	if err != nil {
		return err
	}
	defer out.Release()
	res.Seconds = time.Since(t0).Seconds()
	res.Events, res.Touchpoints = out.Stats.Events, out.Stats.Touchpoints
	if t, ok := out.Tables["fct_attribution"]; ok {
		res.Credits = t.NumRows()
	}
	if db != nil {
		var n int64
		if err := db.QueryRow("SELECT COUNT(*) FROM cl_attribution").Scan(&n); err == nil {
			res.Credits += n
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.CPUSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		res.PeakRSSMiB = float64(ru.Maxrss) / 1024
	}
	res.GoHeapPeakMB = float64(heapPeak.Load()) / (1 << 20)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// heapPeak is the largest Go heap seen by the sampler.
var heapPeak atomic.Uint64

func init() {
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > heapPeak.Load() {
				heapPeak.Store(v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// adder feeds an extractor's event batches to a Stream.
type adder struct{ s *transform.Stream }

func (a *adder) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if table != extract.TableEvents {
		return nil
	}
	t := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer t.Release()
	return a.s.Add(ctx, t)
}

func (a *adder) Reject(context.Context, extract.Rejection) error { return nil }
