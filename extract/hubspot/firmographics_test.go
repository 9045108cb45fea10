package hubspot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// contactsFolder writes an export folder of contacts (NDJSON lines) into dir, with no
// deals and the pipelines of testdata/same.
func contactsFolder(t *testing.T, dir, contacts string) {
	t.Helper()
	pipelines, err := os.ReadFile(filepath.Join(same, PipelinesFile))
	require.NoError(t, err)
	for name, body := range map[string]string{ContactsFile: contacts, DealsFile: "", DealContactsFile: "", PipelinesFile: string(pipelines)} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
}

// TestBadCompanySizesLogged: contacts with an unreadable numemployees are written
// with a null company_size, not rejected; the first few are logged one by one, all
// are counted.
func TestBadCompanySizesLogged(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	var lines strings.Builder
	for i := range 7 {
		fmt.Fprintf(&lines, `{"id":"%d","properties":{"email":"p%d@example.com","createdate":"2026-01-0%dT10:00:00Z","company":"Firm %d","numemployees":"about %d"},"archived":false}`+"\n", 500+i, i, i+1, i, 10*i)
	}
	contactsFolder(t, dir, lines.String())
	var logs bytes.Buffer
	c := extract.NewCollector(mem)
	defer c.Release()
	e := New(Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, e.Extract(context.Background(), c))

	rows := rowsOf(t, c, extract.TableContacts)
	require.Len(t, rows, 7)
	for _, r := range rows {
		require.Nil(t, r["company_size"])
		require.NotNil(t, r["company"])
	}
	require.Empty(t, c.Rejections())
	require.Equal(t, 7, e.BadCompanySizes())
	require.Equal(t, extract.MaxLoggedBadValues, strings.Count(logs.String(), `msg="hubspot: numemployees is neither a number nor a range`))
	require.Contains(t, logs.String(), `location="contacts.ndjson:2 (hubspot contact 501)" value="about 10"`)
	require.NotContains(t, logs.String(), "hubspot contact 506", "past the first few, only counted")
	require.Contains(t, logs.String(), "contacts=7 logged=5")
}
