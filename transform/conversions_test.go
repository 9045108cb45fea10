package transform

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
)

// dealContact associates a contact with a deal.
func (f fixture) dealContact(t *testing.T, deal, contact string) {
	dc := extract.NewBuilder(f.mem, extract.TableDealContacts, f.c)
	defer dc.Release()
	dc.Str(0, "test")
	dc.Str(1, "hubspot")
	dc.Str(2, deal)
	dc.Str(3, contact)
	require.NoError(t, dc.End(context.Background()))
	require.NoError(t, dc.Flush(context.Background()))
}

// TestOneWonDealOneCustomer: HubSpot's lifecycle sync copies a deal's opportunity and
// customer dates onto every contact associated with it. Only the deal's own
// conversions count for them; a contact on no deal keeps its lifecycle dates.
func TestOneWonDealOneCustomer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t,
		ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "1", url: "https://x.com/", ref: "https://www.google.com/"},
		ev{at: at(0, "10h"), kind: "page_view", name: "page_view", anon: "B", session: "1", url: "https://x.com/", ref: ""},
		ev{at: at(0, "11h"), kind: "page_view", name: "page_view", anon: "C", session: "1", url: "https://x.com/", ref: ""},
	)
	lead, opp, won := at(1, "9h"), at(3, "9h"), at(6, "9h")
	// A (primary, the smaller id) and B are on deal D1, won; B's lifecycle dates are
	// the deal's, copied by the sync. C is on no deal (lifecycle without deals).
	f.contact(t, "1", "a@corp.com", "A", lead, lead, lead, lead, opp, won)
	f.contact(t, "2", "b@corp.com", "B", lead, lead, lead, lead, opp, won)
	f.contact(t, "3", "c@other.com", "C", lead, lead, lead, lead, opp, won)
	// A non-primary contact on an open deal is on a deal too: no customer from dates.
	f.contact(t, "4", "d@third.com", "", lead, lead, lead, lead, opp, won)
	f.deal(t, "D1", "1", 1000, opp, won, true)
	f.dealContact(t, "D1", "2")
	f.deal(t, "D2", "5", 500, opp, won, false)
	f.dealContact(t, "D2", "4")

	out := build(t, mem, c, day0, day0.AddDate(0, 0, 20))
	defer out.Release()
	byType := map[string][]map[string]any{}
	for _, r := range rows(out.Tables[load.FctConversion]) {
		byType[r["conversion_type"].(string)] = append(byType[r["conversion_type"].(string)], r)
	}
	// customers = won deals (1) + lifecycle-only customers (C): 2, not 4.
	require.Len(t, byType["customer"], 2)
	var deals, lifecycle int
	for _, r := range byType["customer"] {
		if r["crm_deal_id"] != nil && r["crm_deal_id"] != "" {
			deals++
			assert.Equal(t, 1000.0, r["revenue"])
		} else {
			lifecycle++
			assert.Nil(t, r["revenue"])
		}
	}
	assert.Equal(t, 1, deals)
	assert.Equal(t, 1, lifecycle)
	// opportunities: the two deals' and C's.
	assert.Len(t, byType["opportunity"], 3)
	// every contact keeps its own lead, mql and sql.
	assert.Len(t, byType["lead"], 4)
	assert.Len(t, byType["sql"], 4)
	// Of the deal-associated people, no customer or opportunity lacks its deal.
	persons := map[string]bool{}
	for _, r := range rows(out.Tables[load.BridgeIdentity]) {
		if r["identifier_type"] == "hubspot_contact" && r["identifier"] != "3" {
			persons[r["person_id"].(string)] = true
		}
	}
	require.NotEmpty(t, persons)
	for _, typ := range []string{"customer", "opportunity"} {
		for _, r := range byType[typ] {
			if persons[r["person_id"].(string)] {
				assert.NotEmpty(t, r["crm_deal_id"], "%s of a deal-associated person without a deal: %v", typ, r)
			}
		}
	}
}

// TestContactWithPlaceholderID: a contact whose id is a placeholder that identifies no
// one ("0", "null") belongs to no person; the run goes on.
func TestContactWithPlaceholderID(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t, ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "1", url: "https://x.com/"})
	f.contact(t, "0", "a@corp.com", "A", at(1, "9h"), at(1, "9h"))
	f.contact(t, "7", "b@corp.com", "", at(1, "9h"), at(1, "9h"))
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 5))
	defer out.Release()
	require.NotEmpty(t, rows(out.Tables[load.DimPerson]), "the run goes on without a person for contact 0")
}
