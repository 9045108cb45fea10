package spend_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/spend"
)

// A Meta Ads Insights export, its campaigns mapped to the site's utm_campaign values.
func Example() {
	c := extract.NewCollector(memory.DefaultAllocator)
	defer c.Release()
	e := spend.New(spend.Config{Path: "testdata/meta_insights.csv", Currency: "EUR", CampaignMap: "testdata/campaigns.csv"})
	if err := e.Extract(context.Background(), c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Rows(e.Name(), extract.TableSpend), "rows")
	for _, r := range c.Rejections() {
		fmt.Println(r.Location, r.Reason)
	}
	// Output:
	// 3 rows
	// testdata/meta_insights.csv:4 not a daily row: date_start 2026-01-05 and date_stop 2026-01-11 differ; export the insights with time_increment=1 (one row per campaign and day)
	// testdata/meta_insights.csv:6 bad cost "$85.20": want a plain number in currency units such as 152.37 (no currency sign or letters; not micros)
}
