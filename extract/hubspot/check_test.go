package hubspot

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestCheck: Check judges a folder by the rules Extract starts with, without reading
// a record, and the API by one authenticated request for a page of one contact.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ dir, want string }{{same, "v3 export folder"}, {"testdata/fivetran", "Fivetran HubSpot tables"}} {
		got, err := New(Config{Dir: c.dir}).Check(ctx)
		require.NoError(t, err, c.dir)
		require.Equal(t, c.want, got)
	}
	for _, c := range []struct {
		name, dir string
		want      []string
	}{
		{"no pipelines", copyFixture(t, PipelinesFile), []string{"has no " + PipelinesFile, "won and lost deals cannot be told apart"}},
		{"no deal_contact", copyDir(t, "testdata/fivetran", "deal_contact.csv"), []string{"no deal_contact.csv", "deals cannot be tied"}},
		{"no folder", t.TempDir() + "/missing", []string{"does not exist", "check the path"}},
	} {
		_, err := New(Config{Dir: c.dir}).Check(ctx)
		require.ErrorIs(t, err, extract.ErrConfig, c.name)
		for _, w := range c.want {
			require.ErrorContains(t, err, w, c.name)
		}
	}

	f, srv := newFake(t, same)
	got, err := New(Config{Token: f.token, BaseURL: srv.URL}).Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "token accepted (contacts readable)", got)
	reqs := f.all()
	require.Len(t, reqs, 1, "one request")
	require.Equal(t, "GET /crm/v3/objects/contacts", reqs[0].method+" "+reqs[0].path)
	require.Equal(t, "1", reqs[0].query.Get("limit"))

	// The fake's own 401 for a token it does not know, as HubSpot words it.
	_, err = New(Config{Token: "pat-na1-wrong", BaseURL: srv.URL}).Check(ctx)
	require.True(t, errors.Is(err, extract.ErrAuth), "%v", err)
	require.ErrorContains(t, err, "HTTP 401 INVALID_AUTHENTICATION")
	require.ErrorContains(t, err, "set CLOSEDLOOP_HUBSPOT_TOKEN to a valid private-app access token")
	require.False(t, strings.Contains(err.Error(), "pat-na1-wrong"))
	require.Len(t, f.calls(http.MethodGet, "/crm/v3/objects/contacts"), 2, "a 401 is not retried")
}
