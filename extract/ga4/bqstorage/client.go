// Package bqstorage reads the Google Analytics 4 BigQuery export
// (ga4:bigquery://PROJECT/DATASET) as Arrow records through the BigQuery Storage Read
// API: one table per day (events_YYYYMMDD, or events_intraday_YYYYMMDD for a day not
// yet exported), only the configured columns, rows restricted by the server to the
// run's range.
//
// Days finds the tables of a range and reports days without one; Read reads one table;
// ReadRange does both, several tables at once. Records arrive in the export's own
// schema, as BigQuery serializes it (arrow-go v18 types; REPEATED RECORD is a list of
// structs); turning them into canonical rows is the caller's job.
//
// GA4 rewrites a day's table with late events for up to three days, so a nightly run's
// range must reach back that far (the command's LateDays); re-reading a day gives the
// table as it is now.
//
// Credentials come from Application Default Credentials unless Config.Options say
// otherwise. The credentials need roles/bigquery.dataViewer on the dataset and
// roles/bigquery.readSessionUser on the billing project.
package bqstorage

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/bigquery"
	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"closedloop/extract"
)

// Client reads one GA4 export dataset. Its methods may be called concurrently.
type Client struct {
	cfg Config
	rc  *storage.BigQueryReadClient
	bq  *bigquery.Client
}

// New checks cfg and returns a Client. It finds the credentials but makes no API call;
// no credentials found is an extract.ErrConfig error. Close the Client after use.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var readOpts, restOpts []option.ClientOption
	if cfg.Endpoint != "" {
		readOpts = append(readOpts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	if cfg.RESTEndpoint != "" {
		restOpts = append(restOpts, option.WithEndpoint(cfg.RESTEndpoint), option.WithoutAuthentication())
	}
	rc, err := storage.NewBigQueryReadClient(ctx, append(readOpts, cfg.Options...)...)
	if err != nil {
		return nil, credentialsError("Storage Read API", err)
	}
	bq, err := bigquery.NewClient(ctx, cfg.BillingProject, append(restOpts, cfg.Options...)...)
	if err != nil {
		return nil, errors.Join(credentialsError("BigQuery API", err), rc.Close())
	}
	return &Client{cfg: cfg, rc: rc, bq: bq}, nil
}

// Close closes the API connections. It is safe to call twice.
func (c *Client) Close() error {
	var errs []error
	if c.rc != nil {
		errs = append(errs, c.rc.Close())
		c.rc = nil
	}
	if c.bq != nil {
		errs = append(errs, c.bq.Close())
		c.bq = nil
	}
	return errors.Join(errs...)
}

func credentialsError(api string, err error) error {
	return fmt.Errorf("%w: ga4 bigquery: cannot set up the %s client: %v. Set GOOGLE_APPLICATION_CREDENTIALS "+
		"to a service-account key file, run `gcloud auth application-default login`, or run where a service "+
		"account is attached", extract.ErrConfig, api, err)
}
