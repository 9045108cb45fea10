package salesforce

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestCheck: Check judges a folder by the checks Extract starts with (Lead and Contact
// with their columns), and the API by describing Lead and Contact with the token.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	got, err := New(Config{Dir: exportDir}).Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "Lead and Contact readable; cookie field GA_Client_ID__c", got)

	dir := t.TempDir()
	copyFile(t, exportDir+"/Lead.csv", dir+"/Lead.csv")
	_, err = New(Config{Dir: dir}).Check(ctx)
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "folder "+dir+" has no Contact file (looked for Contact.csv, contact.csv, sf_contact_data.csv)")

	org := newFakeOrg(t, apiToken)
	cfg := apiConfig(org, nil, io.Discard)
	got, err = New(cfg).Check(ctx)
	require.NoError(t, err)
	require.Equal(t, "credentials accepted; Lead and Contact readable; cookie field GA_Client_ID__c", got)
	var paths []string
	for _, r := range org.log() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	require.ElementsMatch(t, []string{"GET /services/data/v62.0/sobjects/Lead/describe", "GET /services/data/v62.0/sobjects/Contact/describe"}, paths,
		"two describes, no query")

	// The org's own 401 for a token it does not take.
	cfg.AccessToken = "00Dexpired!tokentokentoken"
	_, err = New(cfg).Check(ctx)
	require.ErrorIs(t, err, extract.ErrAuth)
	require.ErrorContains(t, err, "INVALID_SESSION_ID: Session expired or invalid (HTTP 401)")
	require.ErrorContains(t, err, "set a valid token in CLOSEDLOOP_SALESFORCE_TOKEN")
	require.False(t, strings.Contains(err.Error(), "tokentokentoken"))
}
