package synth

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/hubspot"
)

// TestBuyingCommittees reads the sample's HubSpot folder with the real extractor:
// every company is an account, contacts and deals name theirs, the B2B deals have
// committees whose members have web sessions before the deal closes, and LinkedIn's
// ads reach the committee far more than the champions (the deal's primary contact,
// the smallest id): the story of deal and account scopes.
func TestBuyingCommittees(t *testing.T) {
	g, err := newGenerator(Sample)
	require.NoError(t, err)
	g.plan()
	dir := t.TempDir()
	require.NoError(t, g.writeDir(context.Background(), dir))
	st := g.stats
	require.Positive(t, st.Committee)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	col := extract.NewCollector(mem)
	defer col.Release()
	hs := hubspot.New(hubspot.Config{Dir: filepath.Join(dir, "hubspot"), Mem: mem, CookieProperty: "ga_client_id", Currency: "USD"})
	require.NoError(t, hs.Extract(context.Background(), col))
	require.Empty(t, col.Rejections())
	assert.Equal(t, int64(st.Companies), rows(col, extract.TableAccounts))

	accounts := col.Table(extract.TableAccounts)
	defer accounts.Release()
	live := map[string]bool{}
	for _, id := range column(t, accounts, "account_id") {
		live[id] = true
	}
	for _, d := range column(t, accounts, "domain") {
		require.NotEmpty(t, d)
	}
	contacts := col.Table(extract.TableContacts)
	defer contacts.Release()
	ids, accountOf := column(t, contacts, "contact_id"), column(t, contacts, "account_id")
	account := map[string]string{}
	withCompany := 0
	for k := range g.contacts {
		if g.contacts[k].company >= 0 {
			withCompany++
		}
	}
	n := 0
	for i, id := range ids {
		if a := accountOf[i]; a != "" {
			require.True(t, live[a], "contact %s: account %s", id, a)
			account[id] = a
			n++
		}
	}
	assert.Equal(t, withCompany, n, "every contact with a company has its account")

	deals := col.Table(extract.TableDeals)
	defer deals.Release()
	dealAccount := map[string]string{}
	for i, id := range column(t, deals, "deal_id") {
		dealAccount[id] = column(t, deals, "account_id")[i]
	}
	links := col.Table(extract.TableDealContacts)
	defer links.Release()
	perDeal := map[string]int{}
	for i, d := range column(t, links, "deal_id") {
		c := column(t, links, "contact_id")[i]
		perDeal[d]++
		if a := dealAccount[d]; a != "" {
			assert.Equal(t, a, account[c], "deal %s, contact %s: the deal's contacts work at its account", d, c)
		}
	}
	multi := 0
	for _, n := range perDeal {
		if n >= 3 {
			multi++
		}
	}
	assert.GreaterOrEqual(t, multi, 20, "deals with a committee of 3 or more")

	// Who LinkedIn's ads reach before a won deal closes: its members, not its champion.
	byPerson := map[uint32][]session{}
	for _, s := range g.sessions {
		byPerson[s.person] = append(byPerson[s.person], s)
	}
	linkedIn := func(person uint32, before int64) (n int) {
		for _, s := range byPerson[person] {
			if tf := &traffics[s.traffic]; s.start < before && tf.source == "linkedin" {
				n++
			}
		}
		return n
	}
	var champ, members, won int
	for _, d := range g.deals {
		if d.state != dealWon || d.sub != 0 {
			continue
		}
		won++
		champ += linkedIn(g.contacts[d.contact].person, d.closed)
		for _, m := range d.members {
			require.NotEmpty(t, byPerson[g.contacts[m].person], "a member's cookie has sessions")
			require.Greater(t, g.contacts[m].id, g.contacts[d.contact].id, "the champion is the primary contact")
			members += linkedIn(g.contacts[m].person, d.closed)
		}
	}
	t.Logf("won deals %d: LinkedIn visits before close by champions %d, by committee members %d", won, champ, members)
	assert.Greater(t, members, 3*max(champ, 1), "LinkedIn reaches the committee")
}
