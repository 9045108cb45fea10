package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/hubspot"
	"closedloop/load/duckdb"
)

// TestSampleOneCustomerPerWonDeal: on the sample, whose deals often have several
// contacts that HubSpot's lifecycle sync marks as customers, the customer
// conversions are the won deals plus the customers of contacts on no deal, and no
// customer of a person on a deal lacks its deal.
func TestSampleOneCustomerPerWonDeal(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	col := extract.NewCollector(mem)
	defer col.Release()
	ex := hubspot.New(hubspot.Config{Spec: "hubspot:sample", Dir: filepath.Join("..", "..", "testdata", "sample", "hubspot"),
		Mem: mem, CookieProperty: "ga_client_id", Currency: "USD"})
	require.NoError(t, ex.Extract(context.Background(), col))
	inRange := func(a *array.Timestamp, i int) bool {
		if a.IsNull(i) {
			return false
		}
		at := time.UnixMicro(int64(a.Value(i))).UTC()
		return !at.Before(sampleFrom) && at.Before(sampleTo.AddDate(0, 0, 1))
	}
	deals, dcs, contacts := one(t, col, extract.TableDeals), one(t, col, extract.TableDealContacts), one(t, col, extract.TableContacts)
	defer deals.Release()
	defer dcs.Release()
	defer contacts.Release()
	str := func(r arrow.RecordBatch, name string) *array.String {
		return r.Column(r.Schema().FieldIndices(name)[0]).(*array.String)
	}
	won := 0
	closed := deals.Column(deals.Schema().FieldIndices("closed_at")[0]).(*array.Timestamp)
	isWon := deals.Column(deals.Schema().FieldIndices("is_won")[0]).(*array.Boolean)
	for i := 0; i < isWon.Len(); i++ {
		if isWon.Value(i) && inRange(closed, i) {
			won++
		}
	}
	onDeal := map[string]bool{}
	perDeal := map[string]int{}
	dcContact, dcDeal := str(dcs, "contact_id"), str(dcs, "deal_id")
	for i := 0; i < dcContact.Len(); i++ {
		onDeal[dcContact.Value(i)] = true
		perDeal[dcDeal.Value(i)]++
	}
	multi := 0
	for _, n := range perDeal {
		if n > 1 {
			multi++
		}
	}
	require.Positive(t, multi, "the sample has deals with several contacts")
	lifecycleOnly, copied := 0, 0
	cid := str(contacts, "contact_id")
	custAt := contacts.Column(contacts.Schema().FieldIndices("customer_at")[0]).(*array.Timestamp)
	for i := 0; i < cid.Len(); i++ {
		if !inRange(custAt, i) {
			continue
		}
		if onDeal[cid.Value(i)] {
			copied++
		} else {
			lifecycleOnly++
		}
	}
	t.Logf("won %d, on-deal customers %d, lifecycle-only %d, multi-contact deals %d", won, copied, lifecycleOnly, multi)

	wh := filepath.Join(t.TempDir(), "demo.duckdb")
	code, _, stderr := runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, won+lifecycleOnly, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'customer'`))
	require.Equal(t, won, query(t, db, `SELECT count(DISTINCT crm_deal_id) FROM fct_conversion WHERE conversion_type = 'customer'`))
	// No customer or opportunity of a person on a deal lacks its deal.
	var ids []string
	for c := range onDeal {
		ids = append(ids, "'"+c+"'")
	}
	require.Zero(t, query(t, db, `
		SELECT count(*) FROM fct_conversion
		WHERE conversion_type IN ('customer', 'opportunity') AND crm_deal_id IS NULL
		  AND person_id IN (SELECT person_id FROM bridge_identity
		                    WHERE identifier_type = 'hubspot_contact' AND identifier IN (`+strings.Join(ids, ",")+`))`))
}

// one reads a collected table as a single record batch.
func one(t *testing.T, col *extract.Collector, name string) arrow.RecordBatch {
	tb := col.Table(name)
	defer tb.Release()
	r := array.NewTableReader(tb, tb.NumRows()+1)
	defer r.Release()
	if !r.Next() {
		return array.NewRecordBatch(tb.Schema(), nil, 0)
	}
	rec := r.RecordBatch()
	rec.Retain()
	return rec
}
