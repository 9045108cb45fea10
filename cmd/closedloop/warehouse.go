package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"closedloop/extract/httpretry"
	"closedloop/load"
	"closedloop/load/bigquery"
	"closedloop/load/duckdb"
	"closedloop/load/parquet"
	"closedloop/load/postgres"
	"closedloop/load/redact"
)

// warehouseKinds are the warehouse specs this build writes.
const warehouseKinds = "duckdb:PATH, parquet:DIR, postgres:DSN or bigquery:PROJECT.DATASET"

// checkWarehouse validates a warehouse spec without connecting.
func checkWarehouse(spec string) error {
	kind, loc, ok := strings.Cut(spec, ":")
	if !ok || strings.TrimSpace(loc) == "" {
		return fmt.Errorf("want %s, got %q", warehouseKinds, spec)
	}
	switch kind {
	case "duckdb", "parquet", "postgres":
		return nil
	case "bigquery":
		if _, _, err := bigqueryTarget(loc); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown warehouse kind %q: want %s", kind, warehouseKinds)
}

// bigqueryTarget splits PROJECT.DATASET.
func bigqueryTarget(loc string) (project, dataset string, err error) {
	i := strings.LastIndex(loc, ".")
	if i <= 0 || i == len(loc)-1 {
		return "", "", fmt.Errorf("want bigquery:PROJECT.DATASET, got %q", "bigquery:"+loc)
	}
	return loc[:i], loc[i+1:], nil
}

// openWarehouse opens the loader of cfg.Warehouse for one run.
// lockWarehouse takes the writer lock of a DuckDB warehouse at the start of a run, so
// that a second run is refused before it does any work (nil for other warehouses,
// which lock when they open). A warehouse path closedloop cannot write, or a file made
// read-only, is bad configuration (exit 2); another run holding the lock fails the run.
func lockWarehouse(cfg Config, runID string, started time.Time, log *slog.Logger) (*duckdb.WriterLock, error) {
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	if kind != "duckdb" {
		return nil, nil
	}
	lk, err := duckdb.Lock(loc, duckdb.Holder{RunID: runID, Started: started})
	switch {
	case errors.Is(err, duckdb.ErrLocked):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: CLOSEDLOOP_WAREHOUSE (--warehouse): %v", errUsage, err)
	}
	if h, stale := lk.Stale(); stale {
		log.Warn("took over the writer lock of a run that ended without releasing it (killed?); its unfinished version was discarded",
			"holder", h.String())
	}
	return lk, nil
}

func openWarehouse(ctx context.Context, cfg Config, rng load.Range, runID string, lock *duckdb.WriterLock, log *slog.Logger) (load.Loader, error) {
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	switch kind {
	case "duckdb":
		return duckdb.Open(ctx, duckdb.Config{Path: loc, Range: rng, Logger: log, MemoryLimit: cfg.DuckdbMemoryLimit, Lock: lock})
	case "parquet":
		return parquet.Open(ctx, parquet.Config{Dir: loc, Range: rng, RunID: runID, Logger: log})
	case "postgres":
		return postgres.Open(ctx, postgres.Config{DSN: loc, Range: rng, Logger: log})
	case "bigquery":
		project, dataset, err := bigqueryTarget(loc)
		if err != nil {
			return nil, err
		}
		return bigquery.Open(ctx, bigquery.Config{Project: project, Dataset: dataset, Location: cfg.BigqueryLocation,
			Range: rng, RunID: runID, Labels: map[string]string{"app": "closedloop"}, Logger: log,
			Retry: httpretry.Policy{SourceTimeout: cfg.SourceTimeout}, ClientOptions: bigqueryOptions(cfg)})
	}
	return nil, fmt.Errorf("%w: CLOSEDLOOP_WAREHOUSE: want %s, got %q", errUsage, warehouseKinds, redact.Spec(cfg.Warehouse))
}
