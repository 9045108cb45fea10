package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
)

// bigQuery is a BigQuery dataset: tables listed and described through the REST API
// (package bqstorage's client), rows read through the Storage Read API as Arrow.
type bigQuery struct {
	log              *slog.Logger
	spec             string
	project, dataset string
	c                *bqstorage.Client

	mu  sync.Mutex
	ids map[string]string // lower-cased table id to id, from the last listing
}

var _ Source = (*bigQuery)(nil)

// bqCallTimeout bounds each REST call (a listing page, a tables.get).
const bqCallTimeout = 2 * time.Minute

func openBigQuery(ctx context.Context, location string, opt Options) (Source, error) {
	rest := location[len("bigquery://"):]
	project, dataset, ok := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if !ok || project == "" || dataset == "" || strings.ContainsAny(dataset, "/?") {
		return nil, configError(location, "want bigquery://PROJECT/DATASET")
	}
	cfg := bqstorage.Config{Project: project, Dataset: dataset, Log: opt.Log,
		Endpoint: opt.ReadEndpoint, RESTEndpoint: opt.Endpoint, Options: opt.BigQuery}
	c, err := bqstorage.New(ctx, cfg)
	if err != nil {
		// bqstorage's checks of the project and dataset ids, and of the credentials.
		return nil, fmt.Errorf("%s: %w", location, err)
	}
	b := &bigQuery{log: opt.Log, spec: "bigquery://" + project + "/" + dataset, project: project, dataset: dataset, c: c}
	// One page of one table tells that the dataset exists and the credentials see it.
	if _, err := b.list(ctx, 1); err != nil {
		c.Close()
		return nil, err
	}
	return b, nil
}

func (b *bigQuery) Spec() string { return b.spec }

func (b *bigQuery) Close() error { return b.c.Close() }

// list lists the dataset's tables (max 0: all) and remembers their ids.
func (b *bigQuery) list(ctx context.Context, max int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, bqCallTimeout)
	defer cancel()
	it := b.c.REST().DatasetInProject(b.project, b.dataset).Tables(ctx)
	it.PageInfo().MaxSize = 1000
	if max > 0 {
		it.PageInfo().MaxSize = max
	}
	ids := map[string]string{}
	var names []string
	for max == 0 || len(names) < max {
		t, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, b.error("listing tables", err)
		}
		lower := strings.ToLower(t.TableID)
		ids[lower] = t.TableID
		names = append(names, lower)
	}
	if max == 0 {
		b.mu.Lock()
		b.ids = ids
		b.mu.Unlock()
	}
	sort.Strings(names)
	return names, nil
}

// error explains an error of the BigQuery APIs about what. Access errors and a
// missing dataset are configuration errors.
func (b *bigQuery) error(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code := status.Code(err)
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusUnauthorized:
			code = codes.Unauthenticated
		case http.StatusForbidden:
			code = codes.PermissionDenied
		case http.StatusNotFound:
			code = codes.NotFound
		}
	}
	switch code {
	case codes.NotFound:
		return fmt.Errorf("%w: %s: %s: dataset not found: check the project (%s) and the dataset (%s): the "+
			"connector's destination dataset, such as hubspot or salesforce (%v)", extract.ErrConfig, b.spec, what, b.project, b.dataset, err)
	case codes.PermissionDenied:
		return fmt.Errorf("%w: %s: %s: permission denied: grant the credentials' principal roles/bigquery.dataViewer "+
			"on dataset %s.%s and roles/bigquery.readSessionUser on project %s (%v)", extract.ErrConfig, b.spec, what,
			b.project, b.dataset, b.project, err)
	case codes.Unauthenticated:
		return fmt.Errorf("%w: %s: %s: not authenticated: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "+
			"key file, run `gcloud auth application-default login`, or run where a service account is attached (%v)",
			extract.ErrConfig, b.spec, what, err)
	}
	return fmt.Errorf("%s: %s: %w", b.spec, what, err)
}

func (b *bigQuery) Tables(ctx context.Context) ([]string, error) { return b.list(ctx, 0) }

// schema returns table's id and schema; a table the dataset lacks is os.ErrNotExist.
func (b *bigQuery) schema(ctx context.Context, table string) (string, bigquery.Schema, error) {
	lower := strings.ToLower(table)
	b.mu.Lock()
	id, ok := b.ids[lower]
	b.mu.Unlock()
	if !ok {
		// BigQuery ids are case-sensitive (p_ads_CampaignBasicStats_1234): find it.
		if _, err := b.list(ctx, 0); err != nil {
			return "", nil, err
		}
		b.mu.Lock()
		id, ok = b.ids[lower]
		b.mu.Unlock()
		if !ok {
			return "", nil, missingTable(b.spec, table)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, bqCallTimeout)
	defer cancel()
	md, err := b.c.REST().DatasetInProject(b.project, b.dataset).Table(id).Metadata(cctx)
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusNotFound {
		return "", nil, missingTable(b.spec, table) // dropped since the listing
	}
	if err != nil {
		return "", nil, b.error("table "+id, err)
	}
	return id, md.Schema, nil
}

func (b *bigQuery) Columns(ctx context.Context, table string) ([]string, error) {
	_, schema, err := b.schema(ctx, table)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(schema))
	for i, f := range schema {
		names[i] = strings.ToLower(f.Name)
	}
	return names, nil
}

func (b *bigQuery) Read(ctx context.Context, table string, cols []string, f *DayFilter, fn func(row []string) error) error {
	id, schema, err := b.schema(ctx, table)
	if err != nil {
		return err
	}
	find := func(name string) (*bigquery.FieldSchema, error) {
		for _, fs := range schema {
			if strings.EqualFold(fs.Name, name) {
				return fs, nil
			}
		}
		return nil, fmt.Errorf("%s: table %s has no column %s: %w", b.spec, id, name, os.ErrNotExist)
	}
	selected := make([]string, len(cols))
	for i, name := range cols {
		fs, err := find(name)
		if err != nil {
			return err
		}
		selected[i] = fs.Name
	}
	if len(selected) == 0 && len(schema) > 0 {
		selected = []string{schema[0].Name} // rows without cells: still one column to count them
	}
	var restriction string
	if f != nil {
		fs, err := find(f.Column)
		if err != nil {
			return err
		}
		if restriction, err = bqRestriction(fs, f); err != nil {
			return fmt.Errorf("%w: %s: table %s: %v", extract.ErrConfig, b.spec, id, err)
		}
	}
	b.log.Debug("tables: read session", "source", b.spec, "table", id, "columns", selected, "where", restriction)
	row := make([]string, len(cols))
	err = b.c.ReadTable(ctx, id, selected, restriction, func(batch bqstorage.Batch) error {
		rec := batch.Record
		render := make([]func(int) string, len(cols))
		for i, name := range selected[:len(cols)] {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				return fmt.Errorf("%s: table %s: the read session did not return column %s", b.spec, id, name)
			}
			render[i] = arrowRenderer(rec.Column(idx[0]))
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			for i := range row {
				row[i] = render[i](r)
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	// bqstorage explains the Storage Read API's errors (access, quota, retries).
	return err
}

// bqRestriction is the row restriction of f on column fs, in BigQuery SQL: a
// half-open range of the column's own type, which prunes a partitioned table.
func bqRestriction(fs *bigquery.FieldSchema, f *DayFilter) (string, error) {
	from, to := dayBounds(f)
	col := "`" + fs.Name + "`"
	switch fs.Type {
	case bigquery.DateFieldType:
		return fmt.Sprintf("%s BETWEEN DATE '%s' AND DATE '%s'", col, from.Format(time.DateOnly),
			to.AddDate(0, 0, -1).Format(time.DateOnly)), nil
	case bigquery.TimestampFieldType:
		return fmt.Sprintf("%s >= TIMESTAMP '%s' AND %s < TIMESTAMP '%s'", col, from.Format("2006-01-02 15:04:05+00"),
			col, to.Format("2006-01-02 15:04:05+00")), nil
	case bigquery.DateTimeFieldType:
		return fmt.Sprintf("%s >= DATETIME '%s' AND %s < DATETIME '%s'", col, from.Format(time.DateTime),
			col, to.Format(time.DateTime)), nil
	case bigquery.StringFieldType:
		return fmt.Sprintf("%s >= '%s' AND %s < '%s'", col, from.Format(time.DateOnly), col, to.Format(time.DateOnly)), nil
	}
	return "", fmt.Errorf("column %s is %s, not a DATE, TIMESTAMP, DATETIME or STRING: it cannot filter days", fs.Name, fs.Type)
}

// arrowRenderer renders the cells of a column the Storage Read API sent.
func arrowRenderer(col arrow.Array) func(int) string {
	null := func(i int) bool { return col.IsNull(i) }
	wrap := func(fn func(int) string) func(int) string {
		return func(i int) string {
			if null(i) {
				return ""
			}
			return fn(i)
		}
	}
	switch a := col.(type) {
	case *array.String:
		return wrap(a.Value)
	case *array.LargeString:
		return wrap(a.Value)
	case *array.Int64:
		return wrap(func(i int) string { return strconv.FormatInt(a.Value(i), 10) })
	case *array.Float64:
		return wrap(func(i int) string { return renderFloat(a.Value(i)) })
	case *array.Boolean:
		return wrap(func(i int) string { return renderBool(a.Value(i)) })
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return wrap(func(i int) string { return renderTime(a.Value(i).ToTime(unit)) })
	case *array.Date32:
		return wrap(func(i int) string { return renderDate(a.Value(i).ToTime()) })
	case *array.Decimal128:
		scale := int(a.DataType().(*arrow.Decimal128Type).Scale)
		return wrap(func(i int) string { return renderDecimal(a.Value(i).BigInt(), scale) })
	case *array.Decimal256:
		scale := int(a.DataType().(*arrow.Decimal256Type).Scale)
		return wrap(func(i int) string { return renderDecimal(a.Value(i).BigInt(), scale) })
	}
	return wrap(func(i int) string { return renderJSON(col.GetOneForMarshal(i)) })
}
