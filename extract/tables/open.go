package tables

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"google.golang.org/api/option"

	"closedloop/extract"
	"closedloop/load/redact"
)

// Options are what a location cannot say: how to reach BigQuery, and where to log.
// The zero value reads Google's BigQuery with Application Default Credentials.
type Options struct {
	// Endpoint is the BigQuery REST API's base URL, ending in /bigquery/v2/
	// (CLOSEDLOOP_BIGQUERY_ENDPOINT), and ReadEndpoint the Storage Read API's gRPC
	// address (host:port), for emulators and tests: a set endpoint is called in
	// plaintext without credentials. Empty means Google's.
	Endpoint, ReadEndpoint string
	// BigQuery are passed to both BigQuery API clients (for example
	// option.WithCredentialsFile); without any, credentials come from Application
	// Default Credentials, as for the ga4:bigquery:// source.
	BigQuery []option.ClientOption
	// Log receives what a backend notices along the way; nil discards it.
	Log *slog.Logger
}

// IsTableLocation reports whether location (a source spec's part after "hubspot:",
// "salesforce:" or "spend:") names warehouse tables rather than a folder of files:
// it starts with bigquery://, postgres://, postgresql:// or duckdb:.
func IsTableLocation(location string) bool {
	for _, p := range []string{"bigquery://", "postgres://", "postgresql://", "duckdb:"} {
		if strings.HasPrefix(strings.ToLower(location), p) {
			return true
		}
	}
	return false
}

// Open parses location and returns its Source:
//
//	bigquery://PROJECT/DATASET
//	postgres://USER:PASSWORD@HOST:PORT/DB?schema=S&sslmode=... (or postgresql://;
//	    a libpq URL: schema names the schema, default public, and is not passed on)
//	duckdb:PATH?schema=S (PATH relative to the working directory; default schema main)
//
// A DuckDB file is opened read-only for each call of the Source and closed after it,
// so that a closedloop run may write the file between them. PostgreSQL and BigQuery
// connect here: a malformed location, a refused login, or a schema or dataset that
// does not exist is an extract.ErrConfig error naming the location (without its
// password) and what to do.
func Open(ctx context.Context, location string, opt Options) (Source, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	lower := strings.ToLower(location)
	switch {
	case strings.HasPrefix(lower, "duckdb:"):
		return openDuckDB(ctx, location, opt)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return openPostgres(ctx, location, opt)
	case strings.HasPrefix(lower, "bigquery://"):
		return openBigQuery(ctx, location, opt)
	}
	return nil, configError(location, "not a table location: want bigquery://PROJECT/DATASET, "+
		"postgres://USER@HOST/DB?schema=S or duckdb:PATH?schema=S")
}

// configError is an extract.ErrConfig error about location (redacted).
func configError(location, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", extract.ErrConfig, redact.Spec(location), fmt.Sprintf(format, args...))
}

// splitSchema removes the schema parameter from a URL's query and returns it
// (def when absent) and the rest of the query.
func splitSchema(query, def string) (schema, rest string, err error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return "", "", err
	}
	schema = def
	if s, ok := vals["schema"]; ok {
		schema = s[len(s)-1]
		delete(vals, "schema")
	}
	return schema, vals.Encode(), nil
}

// quoteIdent quotes a SQL identifier with double quotes (DuckDB, PostgreSQL).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// missingTable is the error of a table the source does not hold.
func missingTable(spec, table string) error {
	return fmt.Errorf("%s: no table or view %s: %w (check the name, and that the connector syncs it)", spec, table, os.ErrNotExist)
}

// SchemaOf is the dataset or schema of a tables.Source spec, for locations: the
// schema parameter (postgres://...?schema=S, duckdb:PATH?schema=S), else the last
// path element (bigquery://PROJECT/DATASET); without either the database's default
// schema (PostgreSQL public, DuckDB main).
func SchemaOf(spec string) string {
	base, query, _ := strings.Cut(spec, "?")
	if q, err := url.ParseQuery(query); err == nil && q.Get("schema") != "" {
		return q.Get("schema")
	}
	switch {
	case strings.HasPrefix(base, "bigquery:"):
		return base[strings.LastIndex(base, "/")+1:]
	case strings.HasPrefix(base, "duckdb:"):
		return "main"
	}
	return "public"
}
