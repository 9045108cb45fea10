package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// e is a test edge between two identifiers.
type e struct {
	at, bt Type
	a, b   string
	kind   EdgeKind
	when   int64
}

func stitchWith(limits Limits, opt Options, edges []e) (*Graph, *Persons) {
	g := New(opt)
	for _, x := range edges {
		g.Edge(g.Node(x.at, x.a, x.when), g.Node(x.bt, x.b, x.when), x.kind, x.when)
	}
	return g, g.Resolve(limits)
}

func stitch(edges []e) (*Graph, *Persons) { return stitchWith(DefaultLimits, Options{}, edges) }

func personOf(g *Graph, p *Persons, t Type, v string) string {
	n := g.Lookup(t, v)
	if n < 0 {
		return ""
	}
	return p.ID(p.Of(n))
}

func TestStitchTransitiveAndNormalized(t *testing.T) {
	g, p := stitch([]e{
		{AnonymousID, UserID, "cookie-laptop", "u1", EventUserID, 1},
		{AnonymousID, UserID, "cookie-phone", "u1", EventUserID, 2},
		{HubSpotContact, Email, "101", "  Ann@Example.COM ", CRMEmail, 3},
		{HubSpotContact, AnonymousID, "101", "cookie-laptop", CRMCookie, 3},
		{AnonymousID, Email, "cookie-other", "bob@example.com", EventEmail, 4},
	})
	ann := personOf(g, p, HubSpotContact, "101")
	require.Equal(t, ann, personOf(g, p, AnonymousID, "cookie-phone"), "phone joins through user id and laptop")
	require.Equal(t, ann, personOf(g, p, Email, "ann@example.com"), "e-mails are trimmed and lower-cased")
	require.Equal(t, ann, personOf(g, p, Email, "ANN@example.com "))
	require.NotEqual(t, ann, personOf(g, p, Email, "bob@example.com"))
	require.Equal(t, 2, p.Len())
	// the person id comes from the CRM contact, the highest-priority identifier
	require.Equal(t, personID(HubSpotContact, "101"), ann)
	require.Empty(t, p.Conflicts())
}

func TestBlockedValuesJoinNothing(t *testing.T) {
	g, p := stitchWith(DefaultLimits, Options{Blocked: []string{"Guest"}}, []e{
		{AnonymousID, Email, "c1", "undefined", EventEmail, 1},
		{AnonymousID, Email, "c2", "Undefined", EventEmail, 1},
		{AnonymousID, UserID, "c3", "null", EventUserID, 1},
		{AnonymousID, UserID, "c4", "null", EventUserID, 1},
		{AnonymousID, UserID, "c5", " guest ", EventUserID, 1},
		{AnonymousID, UserID, "c6", "guest", EventUserID, 1},
		{AnonymousID, Email, "c7", "test@example.com", EventEmail, 1},
		{AnonymousID, Email, "c8", "TEST@example.com", EventEmail, 1},
	})
	require.Equal(t, 8, p.Len())
	require.Equal(t, int32(-1), g.Lookup(Email, "undefined"))
	require.Equal(t, int32(-1), g.Lookup(UserID, "guest"))
}

func TestEarliestCookieNamesAnonymousPerson(t *testing.T) {
	g := New(Options{})
	late := g.Node(AnonymousID, "aaa", 2000)
	early := g.Node(AnonymousID, "zzz", 1000)
	g.Edge(late, early, EventUserID, 5)
	p := g.Resolve(DefaultLimits)
	require.Equal(t, personID(AnonymousID, "zzz"), p.ID(p.Of(late)))
}

// TestSharedCookieTwoPeople: two colleagues log in on one browser. The second user id
// would give the person two user ids: refused, reported, and each keeps their own
// person; the cookie stays with the first to log in.
func TestSharedCookieTwoPeople(t *testing.T) {
	g, p := stitch([]e{
		{AnonymousID, UserID, "kiosk", "alice", EventUserID, 10},
		{AnonymousID, UserID, "kiosk", "bob", EventUserID, 20},
		{AnonymousID, UserID, "bob-laptop", "bob", EventUserID, 5},
	})
	require.NotEqual(t, personOf(g, p, UserID, "alice"), personOf(g, p, UserID, "bob"))
	require.Equal(t, personOf(g, p, UserID, "alice"), personOf(g, p, AnonymousID, "kiosk"))
	require.Equal(t, personOf(g, p, UserID, "bob"), personOf(g, p, AnonymousID, "bob-laptop"))
	require.Len(t, p.Conflicts(), 1)
	c := p.Conflicts()[0]
	require.Equal(t, EventUserID, c.Kind)
	require.Contains(t, c.Reason(), "2 user_id identifiers, over the limit of 1")
	ta, va, _ := p.Node(c.A)
	tb, vb, _ := p.Node(c.B)
	require.ElementsMatch(t, []string{"anonymous_id:kiosk", "user_id:bob"}, []string{ta.String() + ":" + va, tb.String() + ":" + vb})
}

// TestSharedDeviceEmails: a booth laptop collects a form per visitor; the sixth e-mail
// would break the limit of five, so it stays its own person.
func TestSharedDeviceEmails(t *testing.T) {
	var edges []e
	for i := range 7 {
		edges = append(edges, e{AnonymousID, Email, "booth", fmt.Sprintf("visitor%d@x.com", i), EventEmail, int64(i + 1)})
	}
	g, p := stitch(edges)
	booth := personOf(g, p, AnonymousID, "booth")
	for i := range 5 {
		require.Equal(t, booth, personOf(g, p, Email, fmt.Sprintf("visitor%d@x.com", i)), "the five oldest join")
	}
	for i := 5; i < 7; i++ {
		require.NotEqual(t, booth, personOf(g, p, Email, fmt.Sprintf("visitor%d@x.com", i)))
	}
	require.Len(t, p.Conflicts(), 2)
}

// TestStrongEdgesWin: when a CRM e-mail and an event e-mail compete for the last slot,
// the CRM's edge is joined first and the event's is refused.
func TestStrongEdgesWin(t *testing.T) {
	limits := DefaultLimits
	limits[Email] = 1
	g, p := stitchWith(limits, Options{}, []e{
		{AnonymousID, Email, "c", "typo@x.com", EventEmail, 1}, // older but weaker
		{HubSpotContact, AnonymousID, "7", "c", CRMCookie, 5},
		{HubSpotContact, Email, "7", "real@x.com", CRMEmail, 5},
	})
	require.Equal(t, personOf(g, p, HubSpotContact, "7"), personOf(g, p, Email, "real@x.com"))
	require.NotEqual(t, personOf(g, p, HubSpotContact, "7"), personOf(g, p, Email, "typo@x.com"))
	require.Len(t, p.Conflicts(), 1)
	require.Equal(t, EventEmail, p.Conflicts()[0].Kind)
}

func TestThreeDevices(t *testing.T) {
	g, p := stitch([]e{
		{AnonymousID, UserID, "laptop", "u1", EventUserID, 1},
		{AnonymousID, UserID, "phone", "u1", EventUserID, 2},
		{AnonymousID, UserID, "tablet", "u1", EventUserID, 3},
		{AnonymousID, Email, "tablet", "ann@x.com", EventEmail, 3},
	})
	require.Equal(t, 1, p.Len())
	require.Equal(t, personID(UserID, "u1"), personOf(g, p, AnonymousID, "laptop"))
}

// TestLeadConvertedWithNewEmail: a Salesforce lead (private e-mail) converted into a
// contact with a work e-mail: one person with both e-mails, named by the contact.
func TestLeadConvertedWithNewEmail(t *testing.T) {
	g, p := stitch([]e{
		{SalesforceLead, Email, "00Q1", "ann@gmail.com", CRMEmail, 1},
		{SalesforceLead, AnonymousID, "00Q1", "c1", CRMCookie, 1},
		{SalesforceContact, Email, "0031", "ann@acme.com", CRMEmail, 9},
		{SalesforceLead, SalesforceContact, "00Q1", "0031", CRMLink, 9},
	})
	require.Equal(t, 1, p.Len())
	require.Equal(t, personID(SalesforceContact, "0031"), personOf(g, p, Email, "ann@gmail.com"))
	require.Equal(t, personID(SalesforceContact, "0031"), personOf(g, p, AnonymousID, "c1"))
}

// TestCRMMerge: two HubSpot contacts merged into one (hs_merged_object_ids) are one
// person, named by the earliest-created contact.
func TestCRMMerge(t *testing.T) {
	g, p := stitch([]e{
		{HubSpotContact, Email, "200", "ann@x.com", CRMEmail, 50},
		{HubSpotContact, AnonymousID, "200", "c-new", CRMCookie, 50},
		{HubSpotContact, Email, "100", "ann.old@x.com", CRMEmail, 10},
		{HubSpotContact, HubSpotContact, "200", "100", CRMLink, 50},
	})
	require.Equal(t, 1, p.Len())
	require.Equal(t, personID(HubSpotContact, "100"), personOf(g, p, AnonymousID, "c-new"))
}

// TestLateIdentify: a cookie browses anonymously for days, then is identified. Its
// own (anonymous) person id becomes an alias of the contact's person.
func TestLateIdentify(t *testing.T) {
	const dayUS = int64(86_400_000_000)
	g, p := stitch([]e{{AnonymousID, AnonymousID, "c1", "c1", EventUserID, 0}}) // a lone cookie
	before := personOf(g, p, AnonymousID, "c1")
	require.Equal(t, personID(AnonymousID, "c1"), before)

	g, p = stitch([]e{
		{AnonymousID, UserID, "c1", "u9", EventUserID, 5 * dayUS},
		{HubSpotContact, Email, "55", "x@y.com", CRMEmail, 5 * dayUS},
		{HubSpotContact, AnonymousID, "55", "c1", CRMCookie, 5 * dayUS},
	})
	after := personOf(g, p, AnonymousID, "c1")
	require.Equal(t, personID(HubSpotContact, "55"), after)
	aliases := map[string]string{}
	p.Aliases(func(a, id string) { aliases[a] = id })
	require.Equal(t, after, aliases[before], "the old anonymous id points to the person")
	require.Equal(t, after, aliases[personID(UserID, "u9")])
	require.NotContains(t, aliases, after)
}

func TestHashEmails(t *testing.T) {
	g, p := stitchWith(DefaultLimits, Options{HashEmails: true}, []e{
		{HubSpotContact, Email, "1", " Ann@X.com", CRMEmail, 1},
		{AnonymousID, Email, "c", "ann@x.com ", EventEmail, 2},
	})
	require.Equal(t, 1, p.Len())
	sum := sha256.Sum256([]byte("ann@x.com"))
	n := g.Lookup(Email, "ANN@x.com")
	require.GreaterOrEqual(t, n, int32(0))
	_, v, _ := p.Node(n)
	require.Equal(t, hex.EncodeToString(sum[:]), v, "no plain address is kept")
}

func TestParseType(t *testing.T) {
	for i, n := range typeNames {
		typ, err := ParseType(n)
		require.NoError(t, err)
		require.Equal(t, Type(i), typ)
	}
	_, err := ParseType("phone")
	require.ErrorContains(t, err, `unknown identifier type "phone"`)
}

// randomEdges draws edges over a small universe so that components collide and
// guardrails trigger.
func randomEdges(r *rand.Rand, n int) []e {
	types := []Type{AnonymousID, AnonymousID, UserID, Email, Email, HubSpotContact, CRMDeal}
	var out []e
	for range n {
		out = append(out, e{types[r.IntN(len(types))], types[r.IntN(len(types))],
			fmt.Sprint(r.IntN(40)), fmt.Sprint(r.IntN(40)), EdgeKind(r.IntN(int(numKinds))), r.Int64N(100)})
	}
	return out
}

// snapshot is every identifier's person id and the refused edges, for comparisons.
func snapshot(g *Graph, p *Persons) (map[string]string, []string) {
	ids := map[string]string{}
	for i := int32(0); i < int32(g.Len()); i++ {
		typ, v, _ := p.Node(i)
		ids[typ.String()+":"+v] = p.ID(p.Of(i))
	}
	var cs []string
	for _, c := range p.Conflicts() {
		ta, va, _ := p.Node(c.A)
		tb, vb, _ := p.Node(c.B)
		cs = append(cs, fmt.Sprintf("%s:%s|%s:%s|%s|%s", ta, va, tb, vb, c.Kind, c.Reason()))
	}
	slices.Sort(cs)
	return ids, cs
}

// TestPropertyOrderIndependent: any order of the same edges gives the same persons,
// ids and conflicts (guardrails included).
func TestPropertyOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		edges := randomEdges(r, 300)
		wantIDs, wantConflicts := snapshot(stitch(edges))
		for range 10 {
			r.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
			ids, cs := snapshot(stitch(edges))
			require.Equal(t, wantIDs, ids)
			require.Equal(t, wantConflicts, cs)
		}
	}
}

// TestPropertyTransitiveAndLimited: without limits every edge's ends are one person
// and persons are exactly the connected components; with limits no person holds
// more identifiers of a type than allowed, and every edge not joined is reported.
func TestPropertyTransitiveAndLimited(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	none := Limits{}
	for t := range none {
		none[t] = 1 << 30
	}
	for range 50 {
		edges := randomEdges(r, 200)
		g, p := stitchWith(none, Options{}, edges)
		require.Empty(t, p.Conflicts())
		// Reference components by repeated relaxation.
		comp := make([]int32, g.Len())
		for i := range comp {
			comp[i] = int32(i)
		}
		for changed := true; changed; {
			changed = false
			for _, x := range edges {
				a, b := g.Lookup(x.at, x.a), g.Lookup(x.bt, x.b)
				if a < 0 || b < 0 {
					continue
				}
				if m := min(comp[a], comp[b]); comp[a] != m || comp[b] != m {
					comp[a], comp[b], changed = m, m, true
				}
			}
		}
		for i := int32(0); i < int32(g.Len()); i++ {
			for j := int32(0); j < int32(g.Len()); j++ {
				require.Equal(t, comp[i] == comp[j], p.Of(i) == p.Of(j))
			}
		}

		g, p = stitch(edges)
		counts := map[[2]int32]int{}
		for i := int32(0); i < int32(g.Len()); i++ {
			typ, _, _ := p.Node(i)
			counts[[2]int32{p.Of(i), int32(typ)}]++
		}
		for k, n := range counts {
			if l := DefaultLimits[Type(k[1])]; l > 0 {
				require.LessOrEqual(t, n, l, "person %d holds %d %s", k[0], n, Type(k[1]))
			}
		}
		refused := map[[2]int32]bool{}
		for _, c := range p.Conflicts() {
			refused[[2]int32{min(c.A, c.B), max(c.A, c.B)}] = true
		}
		for _, x := range edges {
			a, b := g.Lookup(x.at, x.a), g.Lookup(x.bt, x.b)
			if a >= 0 && b >= 0 && p.Of(a) != p.Of(b) {
				require.True(t, refused[[2]int32{min(a, b), max(a, b)}], "an edge between two persons was reported")
			}
		}
	}
}

func TestDuplicateEdgesMerged(t *testing.T) {
	g := New(Options{})
	a, b := g.Node(AnonymousID, "c", 5), g.Node(UserID, "u", 5)
	for i := range 10 {
		g.Edge(a, b, EventUserID, int64(10-i))
		g.Edge(b, a, EventUserID, int64(20+i))
	}
	p := g.Resolve(DefaultLimits)
	require.Equal(t, 1, p.EdgeCount())
	require.Equal(t, 1, p.Len())
}

// BenchmarkResolve stitches 10M edges (1M people on up to 3 cookies each, with
// their user ids, e-mails and contacts, and 5% random cookie pairs as noise) with
// the default guardrails. It reports edges/s over recording and resolving, and the
// seconds each took; run it under /usr/bin/time -v for the peak memory.
func BenchmarkResolve(b *testing.B) {
	const edges, people = 10_000_000, 1_000_000
	for range b.N {
		b.StopTimer()
		r := rand.New(rand.NewPCG(7, 8))
		g := New(Options{})
		var buf []byte
		str := func(prefix byte, n int) string {
			buf = strconv.AppendInt(append(buf[:0], prefix), int64(n), 10)
			return string(buf)
		}
		b.StartTimer()
		t0 := time.Now()
		for i := range edges {
			p := r.IntN(people)
			cookie := g.Node(AnonymousID, str('c', p*3+r.IntN(3)), int64(i))
			var other int32
			kind := EventUserID
			switch m := i % 20; {
			case m < 6:
				other = g.Node(UserID, str('u', p), int64(i))
			case m < 12:
				other, kind = g.Node(Email, str('e', p)+"@x.com", int64(i)), EventEmail
			case m < 19:
				other, kind = g.Node(HubSpotContact, str('h', p), int64(i)), CRMCookie
			default:
				other = g.Node(AnonymousID, str('c', r.IntN(people*3)), int64(i)) // noise
			}
			g.Edge(cookie, other, kind, int64(i))
		}
		t1 := time.Now()
		p := g.Resolve(DefaultLimits)
		b.StopTimer()
		b.ReportMetric(float64(edges)/time.Since(t0).Seconds(), "edges/s")
		b.ReportMetric(t1.Sub(t0).Seconds(), "s_record")
		b.ReportMetric(time.Since(t1).Seconds(), "s_resolve")
		b.ReportMetric(float64(g.Len()), "identifiers")
		b.ReportMetric(float64(p.Len()), "persons")
		b.ReportMetric(float64(len(p.Conflicts())), "refused")
	}
}

func TestLimitsDefault(t *testing.T) {
	assert.Equal(t, 1, DefaultLimits[UserID])
	assert.Equal(t, 5, DefaultLimits[Email])
	assert.Zero(t, DefaultLimits[AnonymousID])
}

// TestGACookieFormsAreOneIdentifier: a _ga cookie value stored as websites store it
// (GA1.1.<client id>, from a form, a Segment anonymousId or a touch log) and the GA4
// export's user_pseudo_id are one identifier; other cookie ids are kept as given.
func TestGACookieFormsAreOneIdentifier(t *testing.T) {
	g := New(Options{})
	a := g.Node(AnonymousID, "1234567890.1712345678", 1)
	for _, v := range []string{"GA1.1.1234567890.1712345678", " GA1.2.1234567890.1712345678", "_ga=GA1.1.1234567890.1712345678", `"GA1.1.1234567890.1712345678"`} {
		require.Equal(t, a, g.Lookup(AnonymousID, v), v)
	}
	for _, v := range []string{"GA1.1.abcdefgh123", "00000FkCnDfDDf0iC97iC703B", "507f191e-810c-19a7-29de-860ea5cf8a11"} {
		require.Equal(t, v, Normalize(AnonymousID, v))
	}
	require.Equal(t, "ga1.1.x@y.com", Normalize(Email, "GA1.1.X@y.com"), "only cookie ids are reduced")
}
