package bqstorage

import (
	"context"
	"slices"
	"strings"
	"time"
)

// ExportDays lists the dataset's export tables (one tables.list call per 1,000 tables,
// the listing Days makes) and returns the days of its daily tables (events_YYYYMMDD)
// and of its intraday ones (events_intraday_YYYYMMDD), each sorted. It reads no row:
// closedloop check uses it to tell that the dataset is visible to the credentials and
// which days it holds. Access errors are explained as Days explains them.
func (c *Client) ExportDays(ctx context.Context) (daily, intraday []time.Time, err error) {
	have, err := c.listTables(ctx)
	if err != nil {
		return nil, nil, err
	}
	for id := range have {
		day, _ := tableDay(id)
		if strings.HasPrefix(id, intradayPrefix) {
			intraday = append(intraday, day)
		} else {
			daily = append(daily, day)
		}
	}
	slices.SortFunc(daily, time.Time.Compare)
	slices.SortFunc(intraday, time.Time.Compare)
	return daily, intraday, nil
}
