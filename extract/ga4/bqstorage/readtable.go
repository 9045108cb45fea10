package bqstorage

import (
	"context"
	"sync"

	"cloud.google.com/go/bigquery"
)

// REST returns the client's BigQuery REST API client, for callers that list or
// describe the tables of a dataset other than a GA4 export (package extract/tables).
// It is closed by Close.
func (c *Client) REST() *bigquery.Client { return c.bq }

// ReadTable reads table id of the configured dataset as Read does, with its own
// selection and restriction instead of the Config's GA4 ones: columns are top-level
// names or dotted paths (nil reads every column), restriction a filter in BigQuery SQL
// ("" keeps every row). Records come with the selected columns in table order. A
// column the table lacks is dropped with a log line, as for Read: check the columns
// first (tables.get) where that matters.
func (c *Client) ReadTable(ctx context.Context, id string, columns []string, restriction string, fn func(Batch) error) error {
	cc := *c // shares the connections
	cc.cfg.Columns, cc.cfg.RowRestriction = columns, restriction
	var mu sync.Mutex
	return cc.read(ctx, Table{Project: c.cfg.Project, Dataset: c.cfg.Dataset, ID: id}, fn, &mu)
}
