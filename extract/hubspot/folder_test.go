package hubspot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/transform"
)

// same is a clean v3 export folder holding every record type; the API tests serve
// the same records through a fake HubSpot.
const same = "testdata/same"

// touchKey is the part of an events row the activity tests look at.
type touchKey struct {
	name, channel, record, email, source, medium, campaign, page string
	at                                                           time.Time
}

func touches(t *testing.T, c *extract.Collector) []touchKey {
	t.Helper()
	var out []touchKey
	s := func(r map[string]any, k string) string {
		if v, ok := r[k].(string); ok {
			return v
		}
		return ""
	}
	for _, r := range rowsOf(t, c, extract.TableEvents) {
		require.Equal(t, extract.KindTouch, r["kind"])
		require.Equal(t, false, r["is_conversion"])
		require.Nil(t, r["anonymous_id"])
		out = append(out, touchKey{s(r, "event_name"), s(r, "channel"), s(r, "crm_record"), s(r, "email"), s(r, "utm_source"),
			s(r, "utm_medium"), s(r, "utm_campaign"), s(r, "page_location"), r["occurred_at"].(time.Time)})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].at.Equal(out[j].at) {
			return out[i].at.Before(out[j].at)
		}
		return out[i].record+out[i].email < out[j].record+out[j].email
	})
	return out
}

// wantTouches are the touches of testdata/same, by time.
var wantTouches = []touchKey{
	{"email_click", "Email", "", "ann@example.com", "hubspot", "email", "January newsletter", "https://www.example.com/pricing?utm_source=hubspot&utm_medium=email", ts("2026-01-07T10:00:00Z")},
	{"email_click", "Email", "", "carol@example.org", "hubspot", "email", "", "https://www.example.com/blog/attribution", ts("2026-01-07T18:20:00Z")},
	{"email_click", "Email", "", "bob@example.com", "hubspot", "email", "Book a demo", "https://www.example.com/demo", ts("2026-01-07T21:06:40Z")},
	{"sales_email", "Sales: Email", "hubspot_contact:101", "", "Inbound Sales", "sales_email", "", "", ts("2026-01-09T08:00:00Z")},
	{"call", "Sales: Call", "hubspot_contact:101", "", "Inbound Sales", "call", "", "", ts("2026-01-12T15:00:00Z")},
	{"call", "Sales: Call", "hubspot_contact:101", "", "Nat Noteam", "call", "", "", ts("2026-01-13T15:00:00Z")},
	{"call", "Sales: Call", "hubspot_contact:102", "", "Nat Noteam", "call", "", "", ts("2026-01-13T15:00:00Z")},
	{"meeting", "Sales: Meeting", "hubspot_contact:102", "", "EMEA", "meeting", "", "", ts("2026-01-19T10:00:00Z")},
	{"meeting", "Sales: Meeting", "hubspot_contact:108", "", "Inbound Sales", "meeting", "", "", ts("2026-01-21T10:00:00Z")},
	{"task", "Sales: Task", "hubspot_contact:108", "", "Inbound Sales", "task", "", "", ts("2026-01-23T10:00:00Z")},
}

func TestSalesPrefixIsTransforms(t *testing.T) {
	require.Equal(t, transform.SalesChannelPrefix, salesPrefix)
}

func TestFolderActivitiesAndClicks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, e, err := extractDir(t, mem, same)
	defer c.Release()
	require.NoError(t, err)

	// Calls: 7002 canceled and 7006 on no contact are not touches, 7004 archived.
	// Meetings: 7102 a no-show. E-mails: 7202 incoming. Tasks: 7302 open. Clicks: the
	// OPEN event and the bot-filtered click are not touches.
	require.Equal(t, wantTouches, touches(t, c))
	require.Equal(t, 3, e.Skipped(), "contact 103, deal 9007, call 7004")

	var locs []string
	for _, r := range rowsOf(t, c, extract.TableEvents) {
		locs = append(locs, r["location"].(string))
	}
	require.Contains(t, locs, "calls.ndjson:5", "call 7005, one row per contact")
	require.Contains(t, locs, "email_events.ndjson:1")

	type rej struct{ loc, reason string }
	var got []rej
	for _, r := range c.Rejections() {
		got = append(got, rej{r.Location, r.Reason})
	}
	require.Equal(t, []rej{
		{"contacts.ndjson:4 (hubspot contact 106)", `property hs_lifecyclestage_lead_date: time "yesterday": want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs; fix the value in HubSpot`},
		{"deals.ndjson:2 (hubspot deal 9002)", `dealstage history names stage "retiredstage", which is in none of the deal pipelines read (a stage deleted from its pipeline keeps its history): re-export the pipelines together with the deals`},
		{"deals.ndjson:5 (hubspot deal 9005)", `dealstage "nosuchstage" is not a stage of pipeline "default" among the deal pipelines read: re-export the pipelines together with the deals`},
		{"calls.ndjson:3 (hubspot call 7003)", `property hs_timestamp: time "soon": want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs; fix the activity's date in HubSpot`},
		{"email_events.ndjson:4 (hubspot email event c1f0e3a4-0004)", "e-mail click has no recipient, so nobody can be credited with it"},
	}, got)
}

func TestFolderContactsWithDeclaredTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, same)
	defer c.Release()
	require.NoError(t, err)
	got := byKey(rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Len(t, got, 5)
	require.Equal(t, ts("2026-02-20T08:30:00Z"), got["102"]["updated_at"], "epoch ms of a datetime property")
	require.Equal(t, ts("2026-01-10T00:00:00Z"), got["107"]["created_at"], "a bare date in a datetime property")
	require.Equal(t, "hubspot_contact:55;hubspot_contact:56", got["109"]["linked_ids"], "hs_calculated_merged_vids id:ms pairs")
	require.Equal(t, "555.1767000000", got["109"]["cookie_id"])
}

func TestParseTimeByDeclaredType(t *testing.T) {
	tests := []struct {
		typ, in string
		want    time.Time
		err     string
	}{
		{"datetime", "2026-01-05T10:00:00.000Z", ts("2026-01-05T10:00:00Z"), ""},
		{"datetime", "1767607200000", ts("2026-01-05T10:00:00Z"), ""},
		{"datetime", "86400000", ts("1970-01-02T00:00:00Z"), ""}, // milliseconds, however small
		{"date", "1767607200000", ts("2026-01-05T00:00:00Z"), ""},
		{"date", "2026-01-05", ts("2026-01-05T00:00:00Z"), ""},
		{"", "86400000", ts("1972-09-27T00:00:00Z"), ""}, // undeclared: by magnitude (seconds)
		{"number", "1767607200000", time.Time{}, "declared number"},
		{"datetime", "yesterday", time.Time{}, "want RFC 3339"},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.typ, tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, "%s %s", tt.typ, tt.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "%s %s", tt.typ, tt.in)
	}
}

// copyDir copies the files of src into a new temporary folder, without skip.
func copyDir(t *testing.T, src string, skip ...string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, en := range entries {
		if contains(skip, en.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644))
	}
	return dir
}

func TestFolderActivityWithoutAssociations(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, same, "meeting_contacts.ndjson")
	c, _, err := extractDir(t, mem, dir)
	defer c.Release()
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "meetings.ndjson but no meeting_contacts.ndjson")
	require.Empty(t, c.Rejections())
}

func TestFolderBadActivityLines(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, same)
	appendTo := func(name, lines string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(lines)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	appendTo("tasks.ndjson", "{\"id\":\"7303\",\"properties\":{\n{\"properties\":{\"hs_timestamp\":\"2026-01-23T10:00:00Z\"}}\n")
	appendTo("task_contacts.ndjson", "{\"from\":{},\"to\":[{\"toObjectId\":108}]}\n{\"from\":{\"id\":\"7304\"},\"to\":[{\"associationTypes\":[]}]}\n")
	appendTo(EmailEventsFile, "{\"id\":\"x\",\"type\":\"CLICK\",\"created\":\"last week\",\"recipient\":\"a@b.c\"}\n")
	c, _, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	want := map[string]string{
		"tasks.ndjson:3":                                "invalid JSON",
		"tasks.ndjson:4":                                "task has no id",
		"task_contacts.ndjson:3":                        "association has no from.id (the task id)",
		"task_contacts.ndjson:4 (hubspot task 7304)":    "association target has no toObjectId",
		"email_events.ndjson:7 (hubspot email event x)": `created: time "last week"`,
	}
	n := 0
	for _, r := range c.Rejections() {
		if w, ok := want[r.Location]; ok {
			n++
			require.Contains(t, r.Reason, w)
			require.NotEmpty(t, r.Raw)
		}
	}
	require.Equal(t, len(want), n, "%v", c.Rejections())
	require.Equal(t, wantTouches, touches(t, c), "the good lines are still read")
}

func TestCookiePropertyChecked(t *testing.T) {
	t.Run("not a property: warned, no cookie ids", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		var logs bytes.Buffer
		c := extract.NewCollector(mem)
		defer c.Release()
		e := New(Config{Dir: same, Mem: mem, CookieProperty: "hubspotutk_ga", Log: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, e.Extract(context.Background(), c))
		for _, r := range rowsOf(t, c, extract.TableContacts) {
			require.Nil(t, r["cookie_id"])
		}
		require.Contains(t, logs.String(), CookiePropertyVariable)
		require.Contains(t, logs.String(), "hubspotutk_ga")
	})
	t.Run("a date property: configuration error", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		c := extract.NewCollector(mem)
		defer c.Release()
		err := New(Config{Dir: same, Mem: mem, CookieProperty: "createdate"}).Extract(context.Background(), c)
		require.True(t, errors.Is(err, extract.ErrConfig), "%v", err)
		require.ErrorContains(t, err, CookiePropertyVariable)
		require.ErrorContains(t, err, "declared datetime")
	})
}
