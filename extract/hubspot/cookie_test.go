package hubspot

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestCookieValuesAsWebsitesStoreThem: a form field filled from the _ga cookie holds
// "GA1.1.<client id>"; it is written as the client id GA4 exports. A value that is no
// client id (an e-mail, a _ga_<container> session cookie, free text) keeps the contact
// without a cookie id, logged and counted.
func TestCookieValuesAsWebsitesStoreThem(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	contacts := strings.Join([]string{
		`{"id":"1","properties":{"email":"a@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":"GA1.1.1234567890.1712345678"}}`,
		`{"id":"2","properties":{"email":"b@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":" GA1.2.987654321.1712345000 "}}`,
		`{"id":"3","properties":{"email":"c@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":"555.1712340000"}}`,
		`{"id":"4","properties":{"email":"d@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":"d@example.com"}}`,
		`{"id":"5","properties":{"email":"e@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":"GS1.1.1712345678.3.1.1712345999.0.0.0"}}`,
		`{"id":"6","properties":{"email":"f@example.com","createdate":"2026-01-01T10:00:00Z","ga_client_id":"see notes"}}`,
		`{"id":"7","properties":{"email":"g@example.com","createdate":"2026-01-01T10:00:00Z"}}`,
	}, "\n") + "\n"
	contactsFolder(t, dir, contacts)
	var logs bytes.Buffer
	c := extract.NewCollector(mem)
	defer c.Release()
	e := New(Config{Spec: "hubspot:x", Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, e.Extract(context.Background(), c))

	got := map[string]any{}
	for _, r := range rowsOf(t, c, extract.TableContacts) {
		got[r["contact_id"].(string)] = r["cookie_id"]
	}
	require.Equal(t, map[string]any{
		"1": "1234567890.1712345678", "2": "987654321.1712345000", "3": "555.1712340000",
		"4": nil, "5": nil, "6": nil, "7": nil,
	}, got)
	require.Empty(t, c.Rejections(), "the contacts are kept")
	require.Equal(t, 3, e.BadCookieIDs())
	require.Contains(t, logs.String(), `property=ga_client_id value=d@example.com`)
	require.Contains(t, logs.String(), `value="see notes"`)
	require.Contains(t, logs.String(), "contacts=3 logged=3")
}
