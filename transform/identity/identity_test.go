package identity

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

type edge struct {
	at, bt Type
	a, b   string
}

func stitch(edges []edge) (*Graph, *Persons) {
	g := New()
	for _, e := range edges {
		g.Union(g.Node(e.at, e.a, 0), g.Node(e.bt, e.b, 0))
	}
	return g, g.Resolve()
}

func personOf(g *Graph, p *Persons, t Type, v string) string {
	return p.ID(p.Of(g.Lookup(t, v)))
}

func TestStitchTransitiveAndNormalized(t *testing.T) {
	g, p := stitch([]edge{
		{AnonymousID, UserID, "cookie-laptop", "u1"},
		{AnonymousID, UserID, "cookie-phone", "u1"},
		{HubSpotContact, Email, "101", "  Ann@Example.COM "},
		{HubSpotContact, AnonymousID, "101", "cookie-laptop"},
		{AnonymousID, Email, "cookie-other", "bob@example.com"},
	})
	ann := personOf(g, p, HubSpotContact, "101")
	require.Equal(t, ann, personOf(g, p, AnonymousID, "cookie-phone"), "phone joins through user id and laptop")
	require.Equal(t, ann, personOf(g, p, Email, "ann@example.com"), "e-mails are trimmed and lower-cased")
	require.NotEqual(t, ann, personOf(g, p, Email, "bob@example.com"))
	require.Equal(t, 2, p.Len())
	// the person id comes from the CRM contact, the highest-priority identifier
	require.Equal(t, personID(HubSpotContact, "101"), ann)
}

func TestBlockedValuesJoinNothing(t *testing.T) {
	g, p := stitch([]edge{
		{AnonymousID, Email, "c1", "undefined"},
		{AnonymousID, Email, "c2", "undefined"},
		{AnonymousID, UserID, "c3", "null"},
		{AnonymousID, UserID, "c4", "null"},
	})
	require.Equal(t, 4, p.Len())
	require.Equal(t, int32(-1), g.Lookup(Email, "undefined"))
}

func TestEarliestCookieNamesAnonymousPerson(t *testing.T) {
	g := New()
	late := g.Node(AnonymousID, "aaa", 2000)
	early := g.Node(AnonymousID, "zzz", 1000)
	g.Union(late, early)
	p := g.Resolve()
	require.Equal(t, personID(AnonymousID, "zzz"), p.ID(p.Of(late)))
}

// TestOrderIndependent: any order of the same edges gives the same person ids.
func TestOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	types := []Type{AnonymousID, UserID, Email, HubSpotContact}
	var edges []edge
	for i := 0; i < 400; i++ {
		edges = append(edges, edge{types[r.IntN(4)], types[r.IntN(4)],
			string(rune('a' + r.IntN(20))), string(rune('a' + r.IntN(20)))})
	}
	want := map[string]string{}
	g, p := stitch(edges)
	for i := int32(0); i < int32(g.Len()); i++ {
		typ, v, _ := p.Node(i)
		want[typ.String()+":"+v] = p.ID(p.Of(i))
	}
	for round := 0; round < 20; round++ {
		r.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
		g2, p2 := stitch(edges)
		for i := int32(0); i < int32(g2.Len()); i++ {
			typ, v, _ := p2.Node(i)
			require.Equal(t, want[typ.String()+":"+v], p2.ID(p2.Of(i)))
		}
	}
}
