package salesforce

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestCookieFieldAsWebsitesStoreIt: a cookie field filled from the _ga cookie
// ("GA1.1.<client id>") is read as the client id GA4 exports; an e-mail in it keeps
// the person without a cookie id, logged and counted.
func TestCookieFieldAsWebsitesStoreIt(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	for n, edit := range map[string][2]string{
		"Lead.csv":    {`"3333.4444"`, `"GA1.1.3333.4444"`},
		"Contact.csv": {`"9999.0000"`, `"carol@example.org"`},
	} {
		b, err := os.ReadFile(exportDir + "/" + n)
		require.NoError(t, err)
		require.Contains(t, string(b), edit[0])
		require.NoError(t, os.WriteFile(dir+"/"+n, []byte(strings.Replace(string(b), edit[0], edit[1], 1)), 0o644))
	}
	var logs bytes.Buffer
	c, e, err := extractWith(t, Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Equal(t, "3333.4444", people[leadBob]["cookie_id"])
	require.Nil(t, people[contactCarol]["cookie_id"])
	require.Equal(t, 1, e.BadCookieIDs())
	require.Contains(t, logs.String(), "field=GA_Client_ID__c value=carol@example.org")
	require.Contains(t, logs.String(), "records=1 logged=1")
}
