package bqstorage_test

import (
	"fmt"

	"closedloop/extract/ga4/bqstorage"
)

// A ga4 source spec's location becomes a Config; New(ctx, cfg) then connects with
// Application Default Credentials, and ReadRange(ctx, rng, fn) reads the run's days.
func ExampleParseLocation() {
	cfg, err := bqstorage.ParseLocation("bigquery://acme-web/analytics_284613?intraday=true&tz=Europe/Amsterdam")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Project, cfg.Dataset, cfg.Intraday, cfg.TimeZone)

	_, err = bqstorage.ParseLocation("bigquery://acme-web")
	fmt.Println(err)
	// Output:
	// acme-web analytics_284613 true Europe/Amsterdam
	// configuration: ga4:bigquery://acme-web: want bigquery://PROJECT/DATASET
}
